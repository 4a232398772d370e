package templates

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/tapportal/portal/internal/portal"
)

// declaredActions reads the values of every constant of type
// portal.Action that the portal package declares, from its source.
func declaredActions(t *testing.T) []portal.Action {
	t.Helper()
	files, err := filepath.Glob("../../internal/portal/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("the portal package's files: %v, %v", files, err)
	}
	var out []portal.Action
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				v := spec.(*ast.ValueSpec)
				if typ, ok := v.Type.(*ast.Ident); !ok || typ.Name != "Action" {
					continue
				}
				for _, value := range v.Values {
					lit, ok := value.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("%s: an Action constant that is not a string literal", fset.Position(value.Pos()))
					}
					s, _ := strconv.Unquote(lit.Value)
					out = append(out, portal.Action(s))
				}
			}
		}
	}
	return out
}

// Every action the portal declares is listed by portal.Actions, so the
// history's filter offers it, and the pages have words for it: a label, a
// heading and what it did, none of them its raw name.
func TestEveryActionHasItsWords(t *testing.T) {
	declared := declaredActions(t)
	if len(declared) < 12 {
		t.Fatalf("found %d Action constants in the portal package, want at least 12: is the scan broken?", len(declared))
	}
	listed := portal.Actions()
	for _, a := range declared {
		if !slices.Contains(listed, a) {
			t.Errorf("portal.Actions() lacks %q: the history cannot be filtered by it", a)
		}
	}
	labels := map[string]portal.Action{}
	for _, a := range listed {
		if got, ok := portal.ParseAction(string(a)); !ok || got != a {
			t.Errorf("ParseAction(%q) = %q, %v, want it back", a, got, ok)
		}
		label := a.Label()
		if label == "" || label == string(a) {
			t.Errorf("%q.Label() = %q, want words of its own", a, label)
		}
		if other, dup := labels[label]; dup {
			t.Errorf("%q and %q are both labelled %q", other, a, label)
		}
		labels[label] = a
		if title := actionTitle(portal.Event{Action: a}); title == "" || title == label {
			t.Errorf("actionTitle(%q) = %q, want a heading of its own", a, title)
		}
		if done := actionLabel(a); done == "" || done == label || done == string(a) {
			t.Errorf("actionLabel(%q) = %q, want what it did", a, done)
		}
	}
	if _, ok := portal.ParseAction("<script>"); ok {
		t.Error(`ParseAction("<script>") is accepted, want refused`)
	}
}
