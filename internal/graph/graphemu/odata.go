package graphemu

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// This file holds a small but real OData $filter parser. It is real rather
// than a handful of string matches so that the emulator rejects what Graph
// rejects: a client that builds filters by pasting user input would pass
// tests against a lenient fake and fail against Microsoft.

// valueKind is the EDM type of a property or a literal.
type valueKind int

const (
	kindNull valueKind = iota
	kindString
	kindBool
	kindDateTime
	kindInt32
	kindInt64
	kindDouble
)

// edm names the kind as Graph's error messages do.
func (k valueKind) edm() string {
	switch k {
	case kindString:
		return "Edm.String"
	case kindBool:
		return "Edm.Boolean"
	case kindDateTime:
		return "Edm.DateTimeOffset"
	case kindInt32:
		return "Edm.Int32"
	case kindInt64:
		return "Edm.Int64"
	case kindDouble:
		return "Edm.Double"
	}
	return "<null>"
}

func (k valueKind) numeric() bool { return k == kindInt32 || k == kindInt64 || k == kindDouble }

// filterProp is a property a filter may name.
type filterProp struct {
	name string // canonical spelling, as the getter expects it
	kind valueKind
}

// filterSchema describes what one entity type allows in $filter.
type filterSchema struct {
	entity   string // "microsoft.graph.user", for "on type" messages
	resource string // "User", for "of resource" messages
	// props are the filterable properties by lower-case name (Graph
	// resolves names case-insensitively).
	props map[string]filterProp
	// known holds, by lower-case name, properties that exist on the type
	// but cannot be filtered on; naming one is an unsupported query rather
	// than a typo.
	known map[string]bool
}

// filterExpr is a parsed, type-checked $filter.
type filterExpr struct {
	root boolNode
	// advanced is set when the filter uses a construct Graph serves only
	// as an "advanced query" (ConsistencyLevel: eventual and $count=true).
	advanced bool
}

// match reports whether the entity whose properties get returns satisfies
// the filter. get returns nil for a null value, and otherwise a string,
// bool, time.Time or float64 matching the property's kind.
func (f *filterExpr) match(get func(name string) any) bool { return f.root.eval(get) }

type boolNode interface {
	eval(get func(string) any) bool
}

type andNode struct{ l, r boolNode }
type orNode struct{ l, r boolNode }
type notNode struct{ x boolNode }
type boolPropNode struct{ prop filterProp }

func (n andNode) eval(get func(string) any) bool { return n.l.eval(get) && n.r.eval(get) }
func (n orNode) eval(get func(string) any) bool  { return n.l.eval(get) || n.r.eval(get) }
func (n notNode) eval(get func(string) any) bool { return !n.x.eval(get) }
func (n boolPropNode) eval(get func(string) any) bool {
	b, _ := get(n.prop.name).(bool)
	return b
}

type cmpOp int

const (
	opEq cmpOp = iota
	opNe
	opGt
	opGe
	opLt
	opLe
)

var cmpOps = map[string]cmpOp{"eq": opEq, "ne": opNe, "gt": opGt, "ge": opGe, "lt": opLt, "le": opLe}

// kindName is the operator's name in ODL's messages.
func (o cmpOp) kindName() string {
	return [...]string{"Equal", "NotEqual", "GreaterThan", "GreaterThanOrEqual", "LessThan", "LessThanOrEqual"}[o]
}

// literal is a constant in a filter. Its value is nil (null), a string, a
// bool, a time.Time or a float64.
type literal struct {
	kind  valueKind
	value any
}

type cmpNode struct {
	prop filterProp
	op   cmpOp
	lit  literal
}

func (n cmpNode) eval(get func(string) any) bool {
	v := get(n.prop.name)
	if n.lit.kind == kindNull || v == nil {
		bothNull := n.lit.kind == kindNull && v == nil
		switch n.op {
		case opEq:
			return bothNull
		case opNe:
			return !bothNull
		}
		return false
	}
	c, ok := compareValues(v, n.lit.value)
	if !ok {
		return false
	}
	switch n.op {
	case opEq:
		return c == 0
	case opNe:
		return c != 0
	case opGt:
		return c > 0
	case opGe:
		return c >= 0
	case opLt:
		return c < 0
	default:
		return c <= 0
	}
}

// compareValues orders two values of one kind. Strings compare without
// regard to case, as the directory does.
func compareValues(a, b any) (int, bool) {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		if !ok {
			return 0, false
		}
		return strings.Compare(strings.ToLower(x), strings.ToLower(y)), true
	case bool:
		y, ok := b.(bool)
		if !ok {
			return 0, false
		}
		switch {
		case x == y:
			return 0, true
		case !x:
			return -1, true
		}
		return 1, true
	case time.Time:
		y, ok := b.(time.Time)
		if !ok {
			return 0, false
		}
		return x.Compare(y), true
	case float64:
		y, ok := b.(float64)
		if !ok {
			return 0, false
		}
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

type inNode struct {
	prop filterProp
	lits []literal
}

func (n inNode) eval(get func(string) any) bool {
	for _, l := range n.lits {
		if (cmpNode{prop: n.prop, op: opEq, lit: l}).eval(get) {
			return true
		}
	}
	return false
}

type stringFuncNode struct {
	prop   filterProp
	suffix bool // endswith rather than startswith
	arg    string
}

func (n stringFuncNode) eval(get func(string) any) bool {
	v, ok := get(n.prop.name).(string)
	if !ok {
		return false
	}
	v, arg := strings.ToLower(v), strings.ToLower(n.arg)
	if n.suffix {
		return strings.HasSuffix(v, arg)
	}
	return strings.HasPrefix(v, arg)
}

// Lexer.

type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokString
	tokNumber
	tokDateTime
	tokLParen
	tokRParen
	tokComma
)

type lexeme struct {
	kind tokKind
	text string // identifier name, unescaped string, or the literal's source
	pos  int    // byte offset in the filter
}

// maxFilterDepth bounds nesting so that a hostile filter cannot exhaust the
// stack; real filters nest a few levels at most.
const maxFilterDepth = 64

// maxFilterLength bounds the filter; Graph refuses URLs this long anyway.
const maxFilterLength = 8192

func lexFilter(src string) ([]lexeme, *apiError) {
	if !utf8.ValidString(src) {
		bad := 0
		for bad < len(src) {
			r, size := utf8.DecodeRuneInString(src[bad:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			bad += size
		}
		return nil, filterSyntax("Syntax error: the filter is not valid UTF-8 at position %d.", bad)
	}
	var toks []lexeme
	i := 0
	for i < len(src) {
		r, size := utf8.DecodeRuneInString(src[i:])
		switch {
		case unicode.IsSpace(r):
			i += size
		case r == '(':
			toks = append(toks, lexeme{tokLParen, "(", i})
			i++
		case r == ')':
			toks = append(toks, lexeme{tokRParen, ")", i})
			i++
		case r == ',':
			toks = append(toks, lexeme{tokComma, ",", i})
			i++
		case r == '\'':
			s, end, ok := lexString(src, i)
			if !ok {
				return nil, filterSyntax("There is an unterminated string literal at position %d in '%s'.", i, src)
			}
			toks = append(toks, lexeme{tokString, s, i})
			i = end
		case r >= '0' && r <= '9' || r == '-' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9':
			end := i + 1
			for end < len(src) && isLiteralByte(src[end]) {
				end++
			}
			text := src[i:end]
			kind := tokNumber
			if looksLikeDateTime(text) {
				kind = tokDateTime
			}
			toks = append(toks, lexeme{kind, text, i})
			i = end
		case unicode.IsLetter(r) || r == '_':
			end := i + size
			for end < len(src) {
				r2, s2 := utf8.DecodeRuneInString(src[end:])
				if !(unicode.IsLetter(r2) || unicode.IsDigit(r2) || r2 == '_' || r2 == '/' || r2 == '.') {
					break
				}
				end += s2
			}
			toks = append(toks, lexeme{tokIdent, src[i:end], i})
			i = end
		default:
			return nil, filterSyntax("Syntax error: character '%c' is not valid at position %d in '%s'.", r, i, src)
		}
	}
	return append(toks, lexeme{tokEOF, "", len(src)}), nil
}

// lexString reads the quoted literal starting at src[start], where a
// doubled quote stands for one quote.
func lexString(src string, start int) (string, int, bool) {
	var b strings.Builder
	for i := start + 1; i < len(src); i++ {
		if src[i] != '\'' {
			b.WriteByte(src[i])
			continue
		}
		if i+1 < len(src) && src[i+1] == '\'' {
			b.WriteByte('\'')
			i++
			continue
		}
		return b.String(), i + 1, true
	}
	return "", 0, false
}

func isLiteralByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == ':' || c == '+' || c == '-'
}

// looksLikeDateTime tells an unquoted DateTimeOffset (2026-01-02T03:04:05Z)
// from a number.
func looksLikeDateTime(s string) bool {
	return len(s) >= 11 && s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == 't')
}

func filterSyntax(format string, args ...any) *apiError {
	return badRequest(codeBadRequest, "Invalid filter clause: "+format, args...)
}

// Parser.

type filterParser struct {
	src      string
	toks     []lexeme
	i        int
	schema   *filterSchema
	depth    int
	advanced bool
}

// operand is what a sub-expression parses to before its use is known: a
// property, a literal, or a boolean expression.
type operand struct {
	pos  int
	prop *filterProp
	lit  *literal
	node boolNode
}

// kind is the operand's EDM type.
func (o operand) kind() valueKind {
	switch {
	case o.prop != nil:
		return o.prop.kind
	case o.lit != nil:
		return o.lit.kind
	}
	return kindBool
}

// asBool returns the operand as a boolean expression: a sub-expression or
// a boolean property standing alone.
func (o operand) asBool() (boolNode, bool) {
	switch {
	case o.node != nil:
		return o.node, true
	case o.prop != nil && o.prop.kind == kindBool:
		return boolPropNode{*o.prop}, true
	}
	return nil, false
}

// parseFilter parses and type-checks src against schema.
func parseFilter(src string, schema *filterSchema) (*filterExpr, *apiError) {
	if len(src) > maxFilterLength {
		return nil, filterSyntax("the filter is longer than %d characters.", maxFilterLength)
	}
	if strings.TrimSpace(src) == "" {
		return nil, filterSyntax("Expression expected at position 0 in '%s'.", src)
	}
	toks, err := lexFilter(src)
	if err != nil {
		return nil, err
	}
	p := &filterParser{src: src, toks: toks, schema: schema}
	o, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, filterSyntax("Syntax error at position %d in '%s'.", t.pos, src)
	}
	root, ok := o.asBool()
	if !ok {
		return nil, filterSyntax("The $filter expression must evaluate to a single boolean value; '%s' is of type '%s'.", src, o.kind().edm())
	}
	return &filterExpr{root: root, advanced: p.advanced}, nil
}

func (p *filterParser) peek() lexeme { return p.toks[p.i] }

func (p *filterParser) next() lexeme {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

// keyword reports whether the next token is the lower-case keyword kw.
// Keywords are case-sensitive, as in OData.
func (p *filterParser) keyword(kw string) bool {
	t := p.peek()
	return t.kind == tokIdent && t.text == kw
}

func (p *filterParser) parseOr() (operand, *apiError) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxFilterDepth {
		return operand{}, filterSyntax("the filter is nested more than %d levels deep.", maxFilterDepth)
	}
	left, err := p.parseAnd()
	if err != nil {
		return operand{}, err
	}
	for p.keyword("or") {
		p.next()
		right, err := p.parseAnd()
		if err != nil {
			return operand{}, err
		}
		l, r, err := p.logicalOperands(left, right, "Or")
		if err != nil {
			return operand{}, err
		}
		left = operand{pos: left.pos, node: orNode{l, r}}
	}
	return left, nil
}

func (p *filterParser) parseAnd() (operand, *apiError) {
	left, err := p.parseComparison()
	if err != nil {
		return operand{}, err
	}
	for p.keyword("and") {
		p.next()
		right, err := p.parseComparison()
		if err != nil {
			return operand{}, err
		}
		l, r, err := p.logicalOperands(left, right, "And")
		if err != nil {
			return operand{}, err
		}
		left = operand{pos: left.pos, node: andNode{l, r}}
	}
	return left, nil
}

func (p *filterParser) logicalOperands(left, right operand, kind string) (boolNode, boolNode, *apiError) {
	l, lok := left.asBool()
	r, rok := right.asBool()
	if !lok || !rok {
		return nil, nil, filterSyntax("A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind '%s'.",
			left.kind().edm(), right.kind().edm(), kind)
	}
	return l, r, nil
}

func (p *filterParser) parseComparison() (operand, *apiError) {
	left, err := p.parseUnary()
	if err != nil {
		return operand{}, err
	}
	t := p.peek()
	if t.kind != tokIdent {
		return left, nil
	}
	if t.text == "in" {
		p.next()
		return p.parseIn(left, t)
	}
	op, ok := cmpOps[t.text]
	if !ok {
		return left, nil
	}
	p.next()
	right, err := p.parseUnary()
	if err != nil {
		return operand{}, err
	}
	return p.comparison(left, op, right, t)
}

func (p *filterParser) comparison(left operand, op cmpOp, right operand, opTok lexeme) (operand, *apiError) {
	if left.prop == nil || right.lit == nil {
		// Graph evaluates filters against its index: a property on the
		// left and a constant on the right is the only shape it serves.
		return operand{}, badRequest(codeUnsupportedQuery,
			"Invalid filter clause: the '%s' operator at position %d in '%s' needs a property on its left and a literal on its right.",
			opTok.text, opTok.pos, p.src)
	}
	prop, lit := *left.prop, *right.lit
	if lit.kind == kindNull {
		if op != opEq && op != opNe {
			return operand{}, filterSyntax("A binary operator with incompatible types was detected. Found operand types '%s' and '<null>' for operator kind '%s'.",
				prop.kind.edm(), op.kindName())
		}
		// Graph filters on null values only as an advanced query.
		p.advanced = true
	} else if !compatibleKinds(prop.kind, lit.kind) {
		return operand{}, filterSyntax("A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind '%s'.",
			prop.kind.edm(), lit.kind.edm(), op.kindName())
	}
	if prop.kind == kindBool && op != opEq && op != opNe {
		return operand{}, badRequest(codeUnsupportedQuery,
			"Invalid filter clause: the '%s' operator is not supported for property '%s' of type 'Edm.Boolean'.", opTok.text, prop.name)
	}
	if op == opNe {
		// ne is one of the operators Graph reserves for advanced queries.
		p.advanced = true
	}
	return operand{pos: left.pos, node: cmpNode{prop: prop, op: op, lit: lit}}, nil
}

func compatibleKinds(prop, lit valueKind) bool {
	if prop.numeric() {
		return lit.numeric()
	}
	return prop == lit
}

func (p *filterParser) parseIn(left operand, inTok lexeme) (operand, *apiError) {
	if left.prop == nil {
		return operand{}, badRequest(codeUnsupportedQuery,
			"Invalid filter clause: the 'in' operator at position %d in '%s' needs a property on its left.", inTok.pos, p.src)
	}
	if t := p.next(); t.kind != tokLParen {
		return operand{}, filterSyntax("'(' expected at position %d in '%s'.", t.pos, p.src)
	}
	var lits []literal
	for {
		o, err := p.parsePrimary()
		if err != nil {
			return operand{}, err
		}
		if o.lit == nil || !compatibleKinds(left.prop.kind, o.lit.kind) {
			return operand{}, filterSyntax("The 'in' list at position %d in '%s' must hold literals of type '%s'.", o.pos, p.src, left.prop.kind.edm())
		}
		lits = append(lits, *o.lit)
		t := p.next()
		if t.kind == tokRParen {
			break
		}
		if t.kind != tokComma {
			return operand{}, filterSyntax("')' or ',' expected at position %d in '%s'.", t.pos, p.src)
		}
	}
	return operand{pos: left.pos, node: inNode{prop: *left.prop, lits: lits}}, nil
}

func (p *filterParser) parseUnary() (operand, *apiError) {
	if !p.keyword("not") {
		return p.parsePrimary()
	}
	t := p.next()
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxFilterDepth {
		return operand{}, filterSyntax("the filter is nested more than %d levels deep.", maxFilterDepth)
	}
	x, err := p.parseUnary()
	if err != nil {
		return operand{}, err
	}
	n, ok := x.asBool()
	if !ok {
		return operand{}, filterSyntax("A unary operator with an incompatible type was detected. Found operand type '%s' for operator kind 'Not'.", x.kind().edm())
	}
	// not is one of the operators Graph reserves for advanced queries.
	p.advanced = true
	return operand{pos: t.pos, node: notNode{n}}, nil
}

func (p *filterParser) parsePrimary() (operand, *apiError) {
	t := p.next()
	switch t.kind {
	case tokLParen:
		o, err := p.parseOr()
		if err != nil {
			return operand{}, err
		}
		if c := p.next(); c.kind != tokRParen {
			return operand{}, filterSyntax("')' or operator expected at position %d in '%s'.", c.pos, p.src)
		}
		o.pos = t.pos
		return o, nil
	case tokString:
		return operand{pos: t.pos, lit: &literal{kind: kindString, value: t.text}}, nil
	case tokNumber:
		return p.number(t)
	case tokDateTime:
		v, err := time.Parse(time.RFC3339Nano, strings.ToUpper(t.text))
		if err != nil {
			return operand{}, filterSyntax("Unrecognized 'Edm.DateTimeOffset' literal '%s' at '%d' in '%s'.", t.text, t.pos, p.src)
		}
		return operand{pos: t.pos, lit: &literal{kind: kindDateTime, value: v}}, nil
	case tokIdent:
		if p.peek().kind == tokLParen {
			return p.call(t)
		}
		switch t.text {
		case "true", "false":
			return operand{pos: t.pos, lit: &literal{kind: kindBool, value: t.text == "true"}}, nil
		case "null":
			return operand{pos: t.pos, lit: &literal{kind: kindNull}}, nil
		case "and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le", "in":
			return operand{}, filterSyntax("Expression expected at position %d in '%s'.", t.pos, p.src)
		}
		prop, err := p.property(t)
		if err != nil {
			return operand{}, err
		}
		return operand{pos: t.pos, prop: &prop}, nil
	}
	return operand{}, filterSyntax("Expression expected at position %d in '%s'.", t.pos, p.src)
}

func (p *filterParser) number(t lexeme) (operand, *apiError) {
	if n, err := strconv.ParseInt(t.text, 10, 64); err == nil {
		kind := kindInt64
		if n >= math.MinInt32 && n <= math.MaxInt32 {
			kind = kindInt32
		}
		return operand{pos: t.pos, lit: &literal{kind: kind, value: float64(n)}}, nil
	}
	f, err := strconv.ParseFloat(t.text, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return operand{}, filterSyntax("Syntax error: '%s' at position %d in '%s' is not a valid literal.", t.text, t.pos, p.src)
	}
	return operand{pos: t.pos, lit: &literal{kind: kindDouble, value: f}}, nil
}

func (p *filterParser) property(t lexeme) (filterProp, *apiError) {
	lower := strings.ToLower(t.text)
	if prop, ok := p.schema.props[lower]; ok {
		return prop, nil
	}
	if p.schema.known[lower] {
		return filterProp{}, badRequest(codeUnsupportedQuery,
			"Unsupported or invalid query filter clause specified for property '%s' of resource '%s'.", t.text, p.schema.resource)
	}
	return filterProp{}, filterSyntax("Could not find a property named '%s' on type '%s'.", t.text, p.schema.entity)
}

// unsupportedFuncs are OData functions Graph knows but does not serve on
// directory objects.
var unsupportedFuncs = map[string]bool{
	"contains": true, "substringof": true, "tolower": true, "toupper": true, "trim": true,
	"length": true, "indexof": true, "substring": true, "concat": true, "year": true,
	"month": true, "day": true, "hour": true, "minute": true, "second": true, "date": true,
	"time": true, "now": true, "round": true, "floor": true, "ceiling": true, "cast": true,
	"isof": true, "matchespattern": true,
}

func (p *filterParser) call(name lexeme) (operand, *apiError) {
	fn := strings.ToLower(name.text)
	switch {
	case fn == "startswith" || fn == "endswith":
	case unsupportedFuncs[fn] || strings.HasSuffix(fn, "/any") || strings.HasSuffix(fn, "/all"):
		return operand{}, badRequest(codeUnsupportedQuery,
			"Invalid filter clause: the function '%s' at position %d in '%s' is not supported.", name.text, name.pos, p.src)
	default:
		return operand{}, filterSyntax("An unknown function with name '%s' was found. This may also be a function import or a key lookup on a navigation property, which is not allowed.", name.text)
	}
	p.next() // the '('
	var args []operand
	if p.peek().kind == tokRParen {
		p.next()
	} else {
		for {
			a, err := p.parseOr()
			if err != nil {
				return operand{}, err
			}
			args = append(args, a)
			t := p.next()
			if t.kind == tokRParen {
				break
			}
			if t.kind != tokComma {
				return operand{}, filterSyntax("')' or ',' expected at position %d in '%s'.", t.pos, p.src)
			}
		}
	}
	if len(args) != 2 || args[0].kind() != kindString || args[1].kind() != kindString {
		return operand{}, filterSyntax("No function signature for the function with name '%s' matches the specified arguments. The function signatures considered are: %s(Edm.String Nullable=true, Edm.String Nullable=true).", name.text, fn)
	}
	if args[0].prop == nil || args[1].lit == nil {
		return operand{}, badRequest(codeUnsupportedQuery,
			"Invalid filter clause: %s at position %d in '%s' needs a property as its first argument and a string literal as its second.", name.text, name.pos, p.src)
	}
	if fn == "endswith" {
		// Graph serves endsWith only as an advanced query.
		p.advanced = true
	}
	return operand{pos: name.pos, node: stringFuncNode{prop: *args[0].prop, suffix: fn == "endswith", arg: args[1].lit.value.(string)}}, nil
}
