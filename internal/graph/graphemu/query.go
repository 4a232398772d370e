package graphemu

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
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
	if s.maxPage > 0 && size > s.maxPage {
		size = s.maxPage
	}
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
