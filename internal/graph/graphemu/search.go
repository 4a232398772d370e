package graphemu

import (
	"strings"
	"unicode"
)

// Graph's $search on directory objects matches word prefixes in the named
// properties: "displayName:jo" finds "Jo Smith" and "Mary-Jo Jones".

// searchTerm is one quoted "property:words" clause.
type searchTerm struct {
	prop  string // canonical property name
	words []string
}

// searchExpr is an OR of ANDs of terms.
type searchExpr [][]searchTerm

// parseSearch parses a $search value such as
// `"displayName:jo" OR "mail:jo"`. props maps lower-case searchable
// property names to canonical ones.
func parseSearch(raw string, props map[string]string, resource string) (searchExpr, *apiError) {
	syntax := func(format string, args ...any) *apiError {
		return badRequest(codeBadRequest, "Syntax error in $search '%s': "+format, append([]any{raw}, args...)...)
	}
	var expr searchExpr
	var and []searchTerm
	s := strings.TrimSpace(raw)
	if s == "" {
		return nil, syntax("the search is empty.")
	}
	for {
		if !strings.HasPrefix(s, `"`) {
			return nil, syntax(`each search clause must be quoted, as in "displayName:jo".`)
		}
		clause, rest, ok := readQuoted(s)
		if !ok {
			return nil, syntax("a quote is not closed.")
		}
		prop, value, found := strings.Cut(clause, ":")
		if !found {
			return nil, badRequest(codeUnsupportedQuery, "Unsupported $search clause \"%s\": name the property, as in \"displayName:%s\".", clause, clause)
		}
		canonical, ok := props[strings.ToLower(strings.TrimSpace(prop))]
		if !ok {
			return nil, badRequest(codeUnsupportedQuery, "$search is not supported on property '%s' of resource '%s'.", strings.TrimSpace(prop), resource)
		}
		words := searchWords(value)
		if len(words) == 0 {
			return nil, syntax("the clause \"%s\" has nothing to search for.", clause)
		}
		and = append(and, searchTerm{prop: canonical, words: words})
		s = strings.TrimSpace(rest)
		if s == "" {
			break
		}
		op, tail, _ := strings.Cut(s, " ")
		switch op {
		case "AND":
		case "OR":
			expr = append(expr, and)
			and = nil
		default:
			return nil, syntax("expected AND or OR before %s.", s)
		}
		s = strings.TrimSpace(tail)
	}
	return append(expr, and), nil
}

// readQuoted reads a double-quoted string at the start of s, where a
// backslash escapes the next character.
func readQuoted(s string) (content, rest string, ok bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:], true
		default:
			b.WriteByte(s[i])
		}
	}
	return "", "", false
}

// searchWords splits text into lower-case words at anything that is not a
// letter or a digit.
func searchWords(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// match reports whether an entity matches: every word of a term must start
// some word of the property's value.
func (e searchExpr) match(get func(name string) any) bool {
	for _, and := range e {
		all := true
		for _, term := range and {
			if !term.match(get) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func (t searchTerm) match(get func(name string) any) bool {
	v, _ := get(t.prop).(string)
	have := searchWords(v)
	for _, w := range t.words {
		found := false
		for _, h := range have {
			if strings.HasPrefix(h, w) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
