package graphemu

import (
	"slices"
	"testing"

	"github.com/tapportal/portal/internal/graph/query"
)

// FuzzPortalSearchFilter feeds operator input through each query form the
// portal's search sends and through this package's parsers: whatever is
// typed, the prefix filter stays five startswith calls and one employeeId
// comparison, the id lookups one comparison, and the word search three
// clauses on the three name properties, each carrying the term as typed,
// so input can never change the query.
func FuzzPortalSearchFilter(f *testing.F) {
	for _, s := range []string{"priya", "O'Brien", "'", "''", "')", "x') or startswith(displayName,'", "a' or accountEnabled eq true or 'b",
		"*", "%23#%", "Zoë Ångström", "\u202e", "a\\b", "(", "eq", "or", " or ", "not", "null", `"`, `a" OR "mail:b`, `\"`, "herrera tomás",
		"NW10037", "a1000000-0000-4000-8000-000000000017"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input string) {
		term, err := query.CleanSearch(input)
		if err != nil {
			return
		}
		checkPrefixFilter(t, term)
		for _, prop := range []string{"id", "employeeId"} {
			src := query.IDFilter(prop, term)
			expr, aerr := parseFilter(src, userFilter)
			if aerr != nil {
				t.Fatalf("parseFilter(%q) = %v", src, aerr)
			}
			if c, ok := expr.root.(cmpNode); !ok || c.prop.name != prop || c.op != opEq || c.lit.value != term {
				t.Fatalf("filter %q parsed into %#v, want %s eq %q", src, expr.root, prop, term)
			}
		}
		checkSearchExpr(t, term)
	})
}

func checkPrefixFilter(t *testing.T, term string) {
	src := query.SearchFilter(term)
	expr, aerr := parseFilter(src, userFilter)
	if aerr != nil {
		t.Fatalf("parseFilter(%q) = %v", src, aerr)
	}
	var leaves []boolNode
	var walk func(n boolNode)
	walk = func(n boolNode) {
		if x, ok := n.(orNode); ok {
			walk(x.l)
			walk(x.r)
			return
		}
		leaves = append(leaves, n)
	}
	walk(expr.root)
	want := []string{"displayName", "givenName", "surname", "userPrincipalName", "mail"}
	if len(leaves) != len(want)+1 {
		t.Fatalf("filter %q parsed into %#v, want %d calls joined by or", src, expr.root, len(want)+1)
	}
	for i, prop := range want {
		l, ok := leaves[i].(stringFuncNode)
		if !ok || l.suffix || l.prop.name != prop || l.arg != term {
			t.Fatalf("leaf %d = %#v, want startswith(%s, %q)", i, leaves[i], prop, term)
		}
	}
	if c, ok := leaves[len(want)].(cmpNode); !ok || c.prop.name != "employeeId" || c.op != opEq || c.lit.value != term {
		t.Fatalf("last leaf = %#v, want employeeId eq %q", leaves[len(want)], term)
	}
}

// checkSearchExpr: a term with a word becomes three OR'd clauses, each
// searching the term's own words; one without a word is never sent as a
// word search, and parseSearch says why.
func checkSearchExpr(t *testing.T, term string) {
	src := query.SearchExpr(term)
	expr, aerr := parseSearch(src, userSearchProps, "User")
	words := searchWords(term)
	if len(words) == 0 {
		if aerr == nil {
			t.Fatalf("parseSearch(%q) accepted a term without words", src)
		}
		return
	}
	if aerr != nil {
		t.Fatalf("parseSearch(%q) = %v", src, aerr)
	}
	want := []string{"displayName", "userPrincipalName", "mail"}
	if len(expr) != len(want) {
		t.Fatalf("search %q parsed into %d alternatives, want %d", src, len(expr), len(want))
	}
	for i, and := range expr {
		if len(and) != 1 || and[0].prop != want[i] || !slices.Equal(and[0].words, words) {
			t.Fatalf("alternative %d of %q = %+v, want %s with words %q", i, src, and, want[i], words)
		}
	}
}
