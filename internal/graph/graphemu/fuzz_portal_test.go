package graphemu

import (
	"testing"

	"github.com/tapportal/portal/internal/graph"
)

// FuzzPortalSearchFilter feeds operator input through the portal's search
// escaping and this package's OData parser: whatever is typed, the filter
// must stay three startswith calls on the three name properties, each with
// the term as its literal, so input can never change the query.
func FuzzPortalSearchFilter(f *testing.F) {
	for _, s := range []string{"priya", "O'Brien", "'", "''", "')", "x') or startswith(displayName,'", "a' or accountEnabled eq true or 'b",
		"*", "%23#%", "Zoë Ångström", "\u202e", "a\\b", "(", "eq", "or", " or ", "not", "null"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input string) {
		term, err := graph.CleanSearch(input)
		if err != nil {
			return
		}
		src := graph.SearchFilter(term)
		expr, aerr := parseFilter(src, userFilter)
		if aerr != nil {
			t.Fatalf("parseFilter(%q) = %v", src, aerr)
		}
		var leaves []stringFuncNode
		var walk func(n boolNode) bool
		walk = func(n boolNode) bool {
			switch x := n.(type) {
			case orNode:
				return walk(x.l) && walk(x.r)
			case stringFuncNode:
				leaves = append(leaves, x)
				return true
			}
			return false
		}
		if !walk(expr.root) || len(leaves) != 3 {
			t.Fatalf("filter %q parsed into %#v, want three startswith calls joined by or", src, expr.root)
		}
		want := []string{"displayName", "userPrincipalName", "mail"}
		for i, l := range leaves {
			if l.suffix || l.prop.name != want[i] || l.arg != term {
				t.Fatalf("leaf %d = %+v, want startswith(%s, %q)", i, l, want[i], term)
			}
		}
	})
}
