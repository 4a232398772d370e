package graphemu

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// record is a user-like entity for the parser tests.
type record map[string]any

func (r record) get(name string) any { return r[name] }

var filterRecords = map[string]record{
	"priya":  {"id": "1", "displayName": "Priya Natarajan", "mail": "priya@northwind.example", "userType": "Member", "accountEnabled": true, "employeeId": "NW1"},
	"obrien": {"id": "2", "displayName": "Siobhán O'Brien", "mail": nil, "userType": "Member", "accountEnabled": true, "employeeId": nil},
	"guest":  {"id": "3", "displayName": "Jane Doe", "mail": "jane@fabrikam.example", "userType": "Guest", "accountEnabled": false, "employeeId": nil},
	"tricky": {"id": "4", "displayName": "x') or (displayName eq 'y", "mail": nil, "userType": "Member", "accountEnabled": true, "employeeId": nil},
}

// matching returns the names of the records the filter matches.
func matching(f *filterExpr) map[string]bool {
	out := map[string]bool{}
	for name, r := range filterRecords {
		if f.match(r.get) {
			out[name] = true
		}
	}
	return out
}

func TestParseFilter(t *testing.T) {
	for _, tt := range []struct {
		filter   string
		want     []string
		advanced bool
	}{
		{"startswith(displayName,'pri')", []string{"priya"}, false},
		{"startsWith(displayName, 'PRI')", []string{"priya"}, false},
		{"startswith(displayName,'Siobhán O''B')", []string{"obrien"}, false},
		{"startswith(displayName,'siobhÁn')", []string{"obrien"}, false},
		{"displayName eq 'jane doe'", []string{"guest"}, false},
		{"userType eq 'Guest'", []string{"guest"}, false},
		{"accountEnabled eq false", []string{"guest"}, false},
		{"accountEnabled eq true and userType eq 'Member'", []string{"priya", "obrien", "tricky"}, false},
		{"startswith(displayName,'j') or startswith(mail,'priya')", []string{"guest", "priya"}, false},
		{"(startswith(displayName,'j') or startswith(displayName,'p')) and accountEnabled eq true", []string{"priya"}, false},
		{"startswith(displayName,'j') or startswith(displayName,'p') and accountEnabled eq true", []string{"guest", "priya"}, false},
		{"id in ('1', '3')", []string{"priya", "guest"}, false},
		{"id ge '2' and id le '3'", []string{"obrien", "guest"}, false},
		{"id gt '2' and id lt '4'", []string{"guest"}, false},
		{"displayName eq 'x'') or (displayName eq ''y'", []string{"tricky"}, false},
		{"startswith(displayName,'x'') or (displayName eq ''y')", []string{"tricky"}, false},
		{"accountEnabled", []string{"priya", "obrien", "tricky"}, false},
		{"  startswith( mail , 'jane' )  ", []string{"guest"}, false},
		{"mail eq null", []string{"obrien", "tricky"}, true},
		{"mail ne null", []string{"priya", "guest"}, true},
		{"userType ne 'Member'", []string{"guest"}, true},
		{"not startswith(displayName,'p')", []string{"obrien", "guest", "tricky"}, true},
		{"not (accountEnabled eq true)", []string{"guest"}, true},
		{"endswith(mail,'fabrikam.example')", []string{"guest"}, true},
		{"employeeId eq 'NW1'", []string{"priya"}, false},
		{"employeeId eq 'nobody'", nil, false},
	} {
		t.Run(tt.filter, func(t *testing.T) {
			f, err := parseFilter(tt.filter, userFilter)
			if err != nil {
				t.Fatalf("parseFilter(%q) error: %v", tt.filter, err)
			}
			got := matching(f)
			want := map[string]bool{}
			for _, n := range tt.want {
				want[n] = true
			}
			if len(got) != len(want) {
				t.Fatalf("parseFilter(%q) matches %v, want %v", tt.filter, got, want)
			}
			for n := range want {
				if !got[n] {
					t.Fatalf("parseFilter(%q) matches %v, want %v", tt.filter, got, want)
				}
			}
			if f.advanced != tt.advanced {
				t.Fatalf("parseFilter(%q).advanced = %v, want %v", tt.filter, f.advanced, tt.advanced)
			}
		})
	}
}

func TestParseFilterErrors(t *testing.T) {
	for _, tt := range []struct {
		filter string
		code   string
		msg    string
	}{
		{"", codeBadRequest, "Expression expected at position 0"},
		{"startswith(displayName,'a'))", codeBadRequest, "Syntax error at position 27 in 'startswith(displayName,'a'))'."},
		{"startswith(displayName,'a'", codeBadRequest, "')' or ',' expected at position 26"},
		{"displayName eq 'abc", codeBadRequest, "There is an unterminated string literal at position 15"},
		{"displayName eq 'O'Brien'", codeBadRequest, "There is an unterminated string literal at position 23"},
		{"displayName eq", codeBadRequest, "Expression expected at position 14"},
		{"eq 'x'", codeBadRequest, "Expression expected at position 0"},
		{"displayName eq 'a' and", codeBadRequest, "Expression expected"},
		{"displayName eq 'a' or or displayName eq 'b'", codeBadRequest, "Expression expected"},
		{"(displayName eq 'a'", codeBadRequest, "')' or operator expected"},
		{"displayName eq 'a')", codeBadRequest, "Syntax error at position 18"},
		{"displayName eq 'a' eq 'b'", codeBadRequest, "Syntax error"},
		{"displayName == 'a'", codeBadRequest, "character '=' is not valid at position 12"},
		{"displayName eq \"a\"", codeBadRequest, "character '\"' is not valid"},
		{"displayName EQ 'a'", codeBadRequest, "Syntax error"},
		{"foo eq 'a'", codeBadRequest, "Could not find a property named 'foo' on type 'microsoft.graph.user'."},
		{"jobTitle eq 'x'", codeUnsupportedQuery, "Unsupported or invalid query filter clause specified for property 'jobTitle' of resource 'User'."},
		{"displayName eq 1", codeBadRequest, "Found operand types 'Edm.String' and 'Edm.Int32' for operator kind 'Equal'."},
		{"accountEnabled eq 'true'", codeBadRequest, "Found operand types 'Edm.Boolean' and 'Edm.String'"},
		{"displayName eq 2026-01-01T00:00:00Z", codeBadRequest, "'Edm.String' and 'Edm.DateTimeOffset'"},
		{"accountEnabled gt false", codeUnsupportedQuery, "not supported for property 'accountEnabled'"},
		{"displayName gt null", codeBadRequest, "operator kind 'GreaterThan'"},
		{"'a' eq displayName", codeUnsupportedQuery, "needs a property on its left"},
		{"displayName eq displayName", codeUnsupportedQuery, "needs a property on its left and a literal on its right"},
		{"displayName", codeBadRequest, "must evaluate to a single boolean value"},
		{"'a'", codeBadRequest, "must evaluate to a single boolean value"},
		{"not displayName", codeBadRequest, "Found operand type 'Edm.String' for operator kind 'Not'."},
		{"displayName and accountEnabled", codeBadRequest, "operator kind 'And'"},
		{"startswith(displayName)", codeBadRequest, "No function signature for the function with name 'startswith'"},
		{"startswith(accountEnabled,'a')", codeBadRequest, "No function signature"},
		{"startswith('a',displayName)", codeUnsupportedQuery, "needs a property as its first argument"},
		{"startswith(displayName,'a',)", codeBadRequest, "Expression expected"},
		{"frobnicate(displayName,'a')", codeBadRequest, "An unknown function with name 'frobnicate' was found."},
		{"contains(displayName,'a')", codeUnsupportedQuery, "the function 'contains'"},
		{"proxyAddresses/any(p:startswith(p,'smtp'))", codeBadRequest, "character ':' is not valid"},
		{"proxyAddresses/any()", codeUnsupportedQuery, "the function 'proxyAddresses/any'"},
		{"id in ()", codeBadRequest, "Expression expected"},
		{"id in ('a' 'b')", codeBadRequest, "')' or ',' expected"},
		{"id in ('a', true)", codeBadRequest, "must hold literals of type 'Edm.String'"},
		{"id in 'a'", codeBadRequest, "'(' expected"},
		{"displayName eq 'a' $top=5", codeBadRequest, "character '$' is not valid"},
		{"displayName eq 12abc", codeBadRequest, "is not a valid literal"},
		{"displayName eq 2026-13-45T99:00:00Z", codeBadRequest, "Unrecognized 'Edm.DateTimeOffset' literal"},
		{"displayName eq 'a\xff'", codeBadRequest, "not valid UTF-8"},
		{strings.Repeat("(", 200) + "accountEnabled" + strings.Repeat(")", 200), codeBadRequest, "nested more than"},
		{strings.Repeat("not ", 200) + "accountEnabled", codeBadRequest, "nested more than"},
		{"displayName eq '" + strings.Repeat("a", maxFilterLength) + "'", codeBadRequest, "longer than"},
	} {
		t.Run(tt.filter, func(t *testing.T) {
			f, err := parseFilter(tt.filter, userFilter)
			if err == nil {
				t.Fatalf("parseFilter(%q) = %v, want an error", tt.filter, f)
			}
			if err.status != 400 || err.code != tt.code || !strings.Contains(err.msg, tt.msg) {
				t.Fatalf("parseFilter(%q) error = %d %s %q, want 400 %s containing %q", tt.filter, err.status, err.code, err.msg, tt.code, tt.msg)
			}
			if err.code == codeBadRequest && !strings.HasPrefix(err.msg, "Invalid filter clause: ") {
				t.Fatalf("parseFilter(%q) error = %q, want it to start with Graph's \"Invalid filter clause: \"", tt.filter, err.msg)
			}
		})
	}
}

// quoteOData is how a careful client embeds text in a filter.
func quoteOData(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// TestFilterInjection checks that text which would change the expression
// if pasted raw stays inside its literal once quoted, and that the raw
// pastes are refused or stay harmless.
func TestFilterInjection(t *testing.T) {
	attacks := []string{
		"x') or (displayName eq 'y",
		"x' or accountEnabled eq true or displayName eq 'b",
		"')",
		"'",
		"''",
		"a' eq 'a",
		") or (true",
		"x') or startswith(displayName,'",
		"O'Brien",
		"eq",
		"or",
		"not",
		"\\'",
		"%27",
	}
	for _, a := range attacks {
		t.Run(a, func(t *testing.T) {
			for _, filter := range []string{
				"startswith(displayName," + quoteOData(a) + ")",
				"displayName eq " + quoteOData(a),
			} {
				f, err := parseFilter(filter, userFilter)
				if err != nil {
					t.Fatalf("parseFilter(%q) error: %v", filter, err)
				}
				if f.advanced {
					t.Fatalf("parseFilter(%q) became an advanced query: the text escaped its literal", filter)
				}
				victim := record{"displayName": a}
				other := record{"displayName": "Zz other", "accountEnabled": true}
				if !f.match(victim.get) || f.match(other.get) {
					t.Fatalf("parseFilter(%q) does not match exactly the literal text", filter)
				}
			}
			// Pasted raw, the same text must fail to parse or match only
			// what it literally names: never every user.
			raw := "startswith(displayName,'" + a + "')"
			if f, err := parseFilter(raw, userFilter); err == nil {
				everyone := 0
				for _, r := range filterRecords {
					if f.match(r.get) {
						everyone++
					}
				}
				if everyone == len(filterRecords) {
					t.Logf("raw paste %q parses and matches every record: clients must quote", raw)
				}
			}
		})
	}
}

func TestFilterDateTime(t *testing.T) {
	schema := auditFilter
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	e := &AuditEntry{ActivityDateTime: at, ActivityDisplayName: "Admin registered security info", LoggedByService: "Authentication Methods"}
	for _, tt := range []struct {
		filter string
		want   bool
	}{
		{"activityDateTime ge 2026-03-01T12:00:00Z", true},
		{"activityDateTime gt 2026-03-01T12:00:00Z", false},
		{"activityDateTime ge 2026-03-01T13:00:00+01:00", true},
		{"activityDateTime lt 2026-03-01T12:00:00.0000001Z", true},
		{"activityDateTime le 2026-02-28T00:00:00Z", false},
		{"activityDateTime ge 2026-03-01T00:00:00Z and activityDisplayName eq 'Admin registered security info'", true},
		{"loggedByService eq 'authentication methods'", true},
		{"initiatedBy/app/appId eq 'x'", false},
	} {
		f, err := parseFilter(tt.filter, schema)
		if err != nil {
			t.Fatalf("parseFilter(%q) error: %v", tt.filter, err)
		}
		if got := f.match(auditGetter(e)); got != tt.want {
			t.Errorf("parseFilter(%q).match = %v, want %v", tt.filter, got, tt.want)
		}
	}
	if _, err := parseFilter("activityDateTime ge '2026-03-01'", schema); err == nil {
		t.Error("a quoted date compared with a DateTimeOffset parsed, want a type error")
	}
	if _, err := parseFilter("resultReason eq 'x'", schema); err == nil || err.code != codeUnsupportedQuery {
		t.Errorf("filter on resultReason: error %v, want %s", err, codeUnsupportedQuery)
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, seed := range []string{
		"startswith(displayName,'a')",
		"displayName eq 'O''Brien' or (accountEnabled eq true and not userType eq 'Guest')",
		"id in ('a','b')",
		"mail eq null",
		"activityDateTime ge 2026-01-01T00:00:00Z",
		"((((",
		"'''",
		"not not not accountEnabled",
		"displayName eq -1.5e3",
	} {
		f.Add(seed)
	}
	victim := record{"id": "1", "displayName": "x", "mail": nil, "accountEnabled": true, "userType": "Member"}
	f.Fuzz(func(t *testing.T, s string) {
		// Any input either parses or is refused with a 400; it never panics.
		if expr, err := parseFilter(s, userFilter); err != nil {
			if err.status != 400 || err.msg == "" {
				t.Fatalf("parseFilter(%q) error = %+v, want a 400 with a message", s, err)
			}
		} else {
			expr.match(victim.get)
		}
		// Any text, quoted, is one literal that matches itself.
		if !utf8.ValidString(s) || len(s) > 1000 {
			return
		}
		expr, err := parseFilter("displayName eq "+quoteOData(s), userFilter)
		if err != nil {
			t.Fatalf("quoted %q did not parse: %v", s, err)
		}
		if !expr.match(record{"displayName": s}.get) {
			t.Fatalf("quoted %q does not match itself", s)
		}
	})
}

func TestParseSearch(t *testing.T) {
	users := map[string]record{
		"john":   {"displayName": "John Smith", "mail": "john.smith@northwind.example"},
		"maryjo": {"displayName": "Mary-Jo Jones", "mail": "mj@northwind.example"},
		"zoe":    {"displayName": "Zoë Laurent", "mail": "zoe.laurent@northwind.example"},
		"dan":    {"displayName": "Daniel Kowalski", "mail": "daniel.kowalski@northwind.example"},
	}
	for _, tt := range []struct {
		search string
		want   []string
	}{
		{`"displayName:jo"`, []string{"john", "maryjo"}},
		{`"displayName:JO"`, []string{"john", "maryjo"}},
		{`"displayName:smi"`, []string{"john"}},
		{`"displayName:john sm"`, []string{"john"}},
		{`"displayName:ohn"`, nil},
		{`"displayName:zoë"`, []string{"zoe"}},
		{`"mail:daniel.k"`, []string{"dan"}},
		{`"displayName:zo" OR "mail:daniel"`, []string{"zoe", "dan"}},
		{`"displayName:jo" AND "mail:mj"`, []string{"maryjo"}},
		{`"displayName:jo" AND "mail:mj" OR "displayName:zo"`, []string{"maryjo", "zoe"}},
		{`"displayName:say \"hi\""`, nil},
	} {
		expr, err := parseSearch(tt.search, userSearchProps, "User")
		if err != nil {
			t.Fatalf("parseSearch(%s) error: %v", tt.search, err)
		}
		var got []string
		for _, name := range []string{"john", "maryjo", "zoe", "dan"} {
			if expr.match(users[name].get) {
				got = append(got, name)
			}
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("parseSearch(%s) matches %v, want %v", tt.search, got, tt.want)
		}
	}
	for _, bad := range []struct{ search, code string }{
		{``, codeBadRequest},
		{`displayName:jo`, codeBadRequest},
		{`"displayName:jo`, codeBadRequest},
		{`"jo"`, codeUnsupportedQuery},
		{`"jobTitle:dev"`, codeUnsupportedQuery},
		{`"displayName:"`, codeBadRequest},
		{`"displayName:jo" "mail:x"`, codeBadRequest},
		{`"displayName:jo" or "mail:x"`, codeBadRequest},
		{`"displayName:jo" OR`, codeBadRequest},
	} {
		if _, err := parseSearch(bad.search, userSearchProps, "User"); err == nil || err.code != bad.code {
			t.Errorf("parseSearch(%s) error = %v, want %s", bad.search, err, bad.code)
		}
	}
}

func TestSkipToken(t *testing.T) {
	opts := queryOptions{"$filter": "accountEnabled eq true"}
	fp := queryFingerprint("/v1.0/users", opts)
	token := encodeSkipToken(42, fp)
	opts["$skiptoken"] = token
	if n, err := opts.offset("/v1.0/users"); err != nil || n != 42 {
		t.Fatalf("offset(own token) = %d, %v; want 42", n, err)
	}
	for name, o := range map[string]queryOptions{
		"garbage":      {"$skiptoken": "not-a-token"},
		"other filter": {"$skiptoken": token, "$filter": "accountEnabled eq false"},
		"truncated":    {"$skiptoken": token[:len(token)-2], "$filter": "accountEnabled eq true"},
		"empty":        {"$skiptoken": ""},
	} {
		if _, err := o.offset("/v1.0/users"); err == nil {
			t.Errorf("offset(%s) accepted the token, want a 400", name)
		}
	}
	if _, err := (queryOptions{"$skiptoken": token, "$filter": "accountEnabled eq true"}).offset("/v1.0/auditLogs/directoryAudits"); err == nil {
		t.Error("a users token was accepted on another resource")
	}
}
