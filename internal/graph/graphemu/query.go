package graphemu

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// queryOptions are the OData system query options of one request, by name
// with its "$".
type queryOptions map[string]string

// readOptions parses the request's query string and checks its system
// query options against those the endpoint serves. Graph refuses an
// option it does not know rather than ignoring it, and so must the
// emulator: a client that relies on an ignored option would work here
// and fail against Microsoft.
func readOptions(r *http.Request, allowed ...string) (queryOptions, *apiError) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badRequest(codeBadRequest, "The query string is malformed: %v.", err)
	}
	opts := queryOptions{}
	for name, vs := range values {
		if !strings.HasPrefix(name, "$") {
			continue // Graph ignores parameters that are not system query options.
		}
		if len(vs) > 1 {
			return nil, badRequest(codeBadRequest, "Query option '%s' was specified more than once, but it must be specified at most once.", name)
		}
		if !slices.Contains(allowed, name) {
			if name == "$skip" {
				return nil, badRequest(codeRequestBad, "'$skip' is not supported by the service.")
			}
			return nil, badRequest(codeBadRequest, "Query option '%s' is not supported by this resource.", name)
		}
		opts[name] = vs[0]
	}
	return opts, nil
}

// eventual reports whether the request asked for eventual consistency,
// which Graph's advanced queries need.
func eventual(r *http.Request) bool {
	return strings.EqualFold(strings.TrimSpace(r.Header.Get("ConsistencyLevel")), "eventual")
}

// pageSize reads $top: 1 to max, def when absent.
func (o queryOptions) pageSize(def, max int) (int, *apiError) {
	raw, ok := o["$top"]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil || n < 1 || n > max {
		return 0, badRequest(codeRequestBad, "Invalid page size specified: '%s'. Must be between 1 and %d inclusive.", raw, max)
	}
	return n, nil
}

// count reads $count, which Graph serves only with eventual consistency.
func (o queryOptions) count(r *http.Request) (bool, *apiError) {
	raw, ok := o["$count"]
	if !ok {
		return false, nil
	}
	switch strings.ToLower(raw) {
	case "true":
		if !eventual(r) {
			return false, badRequest(codeUnsupportedQuery, "$count is only supported with the request header 'ConsistencyLevel: eventual'.")
		}
		return true, nil
	case "false":
		return false, nil
	}
	return false, badRequest(codeBadRequest, "Invalid value '%s' for $count: expected true or false.", raw)
}

// selection reads $select against the properties of a type (by lower-case
// name to canonical name). It returns nil when $select is absent.
func (o queryOptions) selection(known map[string]string, entity string) ([]string, *apiError) {
	raw, ok := o["$select"]
	if !ok {
		return nil, nil
	}
	var out []string
	for _, part := range strings.Split(raw, ",") {
		name := strings.TrimSpace(part)
		if name == "" {
			return nil, badRequest(codeBadRequest, "Syntax error: an empty property name in $select '%s'.", raw)
		}
		if name == "*" {
			for _, canonical := range known {
				out = append(out, canonical)
			}
			sort.Strings(out)
			continue
		}
		canonical, ok := known[strings.ToLower(name)]
		if !ok {
			return nil, badRequest(codeRequestBad, "Could not find a property named '%s' on type '%s'.", name, entity)
		}
		if !slices.Contains(out, canonical) {
			out = append(out, canonical)
		}
	}
	return out, nil
}

// project keeps the selected properties of a rendered entity, and its
// "@odata.type" when it carries one.
func project(full map[string]any, props []string) map[string]any {
	out := make(map[string]any, len(props)+1)
	if t, ok := full["@odata.type"]; ok {
		out["@odata.type"] = t
	}
	for _, p := range props {
		out[p] = full[p]
	}
	return out
}

// Paging. A skip token carries the offset of the next page and a
// fingerprint of the query it belongs to, so that a token cannot be
// replayed against another filter. It is opaque to clients, as Graph's is.

const skipTokenVersion = 1

func queryFingerprint(path string, o queryOptions) []byte {
	h := sha256.New()
	for _, part := range []string{path, o["$filter"], o["$search"], o["$orderby"]} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return h.Sum(nil)[:8]
}

func encodeSkipToken(offset int, fp []byte) string {
	b := make([]byte, 0, 13)
	b = append(b, skipTokenVersion)
	b = binary.BigEndian.AppendUint32(b, uint32(offset))
	b = append(b, fp...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// offset returns where the requested page starts: 0, or the offset a
// $skiptoken carries.
func (o queryOptions) offset(path string) (int, *apiError) {
	raw, ok := o["$skiptoken"]
	if !ok {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	fp := queryFingerprint(path, o)
	if err != nil || len(b) != 5+len(fp) || b[0] != skipTokenVersion || !bytes.Equal(b[5:], fp) {
		return 0, badRequest(codeRequestBad, "The specified page token is not valid for this query. Start again from the first page.")
	}
	return int(binary.BigEndian.Uint32(b[1:5])), nil
}

// page cuts one page out of items and, when more follow, returns the next
// page's link. The link is absolute, on the host the client addressed, and
// keeps every other query option, as Graph's does.
func (s *Server) page(r *http.Request, o queryOptions, items []map[string]any, offset, size int) ([]map[string]any, string) {
	if offset >= len(items) {
		return []map[string]any{}, ""
	}
	end := min(offset+size, len(items))
	if end == len(items) {
		return items[offset:end], ""
	}
	token := encodeSkipToken(end, queryFingerprint(r.URL.Path, o))
	names := make([]string, 0, len(o)+1)
	for name := range o {
		if name != "$skiptoken" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var q []string
	for _, name := range names {
		q = append(q, queryEscape(name)+"="+queryEscape(o[name]))
	}
	q = append(q, "$skiptoken="+token)
	return items[offset:end], s.baseURL(r) + r.URL.EscapedPath() + "?" + strings.Join(q, "&")
}

// queryEscape escapes a query key or value the way Graph's links read:
// "$" stays literal and spaces become %20.
func queryEscape(s string) string {
	e := url.QueryEscape(s)
	e = strings.ReplaceAll(e, "+", "%20")
	return strings.ReplaceAll(e, "%24", "$")
}

// baseURL is the scheme and host the client reached the emulator on, so
// that links stay on it (the SDK sends its token only to known hosts).
func (s *Server) baseURL(r *http.Request) string {
	if r.Host != "" {
		return "https://" + r.Host
	}
	return s.url
}

// contextURL is the "@odata.context" of a reply.
func (s *Server) contextURL(r *http.Request, fragment string) string {
	return s.baseURL(r) + "/v1.0/$metadata#" + fragment
}

// collection renders a list reply.
func collection(context string, items []map[string]any, count int, withCount bool, next string) map[string]any {
	out := map[string]any{"@odata.context": context, "value": items}
	if withCount {
		out["@odata.count"] = count
	}
	if next != "" {
		out["@odata.nextLink"] = next
	}
	return out
}

// $search. Graph's directory search matches word prefixes in the named
// properties: "displayName:jo" finds "Jo Smith" and "Mary-Jo Jones".

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

// Small helpers shared by the handlers.

// graphTime renders a time as Graph does (UTC, at most seven fractional
// digits), or null when it is unset.
func graphTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.9999999Z")
}

// ticks truncates a time to Graph's precision (100 ns), so that what the
// emulator stores is exactly what a client reads back.
func ticks(t time.Time) time.Time { return t.Truncate(100 * time.Nanosecond) }

// nullable renders an empty string as null, as Graph does for unset
// properties.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// newGUID returns a random version 4 GUID.
func newGUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// notFound is Graph's reply for an id that names nothing.
func notFound(id string) *apiError {
	return &apiError{status: http.StatusNotFound, code: codeNotFound,
		msg: fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id)}
}

func writeAPIError(w http.ResponseWriter, r *http.Request, e *apiError) {
	writeError(w, r, e.status, e.code, e.msg)
}
