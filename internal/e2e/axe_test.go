package e2e

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/chromedp/chromedp"
)

// axeSource is axe-core, vendored from npm (see testdata/README.md).
//
//go:embed testdata/axe.min.js
var axeSource string

// axeViolation is one rule a page breaks, with the elements that break it.
type axeViolation struct {
	ID      string    `json:"id"`
	Impact  string    `json:"impact"`
	Help    string    `json:"help"`
	HelpURL string    `json:"helpUrl"`
	Nodes   []axeNode `json:"nodes"`
}

type axeNode struct {
	Target  []string `json:"target"`
	HTML    string   `json:"html"`
	Summary string   `json:"summary"`
}

func (v axeViolation) String() string {
	var out strings.Builder
	fmt.Fprintf(&out, "%s (%s): %s <%s>", v.ID, v.Impact, v.Help, v.HelpURL)
	for _, n := range v.Nodes {
		fmt.Fprintf(&out, "\n    %s\n      %s", strings.Join(n.Target, " "), n.HTML)
		if n.Summary != "" {
			fmt.Fprintf(&out, "\n      %s", strings.ReplaceAll(n.Summary, "\n", "\n      "))
		}
	}
	return out.String()
}

// axeResults is what a run of axe-core found.
type axeResults struct {
	Violations []axeViolation `json:"violations"`
	// Passed counts the rules the page passed; zero means axe-core checked
	// nothing, which is a broken check, not a clean page.
	Passed int `json:"passed"`
}

// axeRun runs axe-core on the whole document and keeps what the Go side
// needs of each violation (targets inside shadow roots or frames are
// lists; they are joined).
const axeRun = `axe.run(document, {resultTypes: ["violations"]}).then(function (r) {
  return {passed: r.passes.length, violations: r.violations.map(function (v) {
    return {id: v.id, impact: v.impact || "", help: v.help, helpUrl: v.helpUrl,
      nodes: v.nodes.map(function (n) {
        return {target: n.target.map(function (t) { return Array.isArray(t) ? t.join(" >>> ") : String(t); }),
          html: n.html, summary: n.failureSummary || ""};
      })};
  })};
})`

// checkAccessibility runs axe-core on the page the tab shows and fails the
// test for every serious or critical violation; lesser ones are logged.
//
// axe-core is put into the page through the DevTools protocol
// (Runtime.evaluate), which the page's CSP (script-src 'self') does not
// govern, so the check runs against the real headers.
func (b *browser) checkAccessibility(step string) {
	b.t.Helper()
	if !evaluate[bool](b, `typeof window.axe === "object"`) {
		evaluate[chromedp.Void](b, axeSource+"\n;undefined")
	}
	res := evaluate[axeResults](b, axeRun, chromedp.EvalAwaitPromise)
	if res.Passed == 0 {
		b.t.Fatalf("%s: axe-core checked no rule on %s (%s)", b.j.name, b.path(), step)
	}
	width := &tally.desktop
	if b.phone {
		width = &tally.phone
	}
	tally.axeChecks.Add(1)
	width.axeChecks.Add(1)
	for _, v := range res.Violations {
		if v.Impact == "serious" || v.Impact == "critical" {
			tally.violations.Add(1)
			width.violations.Add(1)
			b.t.Errorf("%s: accessibility violation on %s (%s): %s", b.j.name, b.path(), step, v)
		} else {
			b.t.Logf("%s: minor accessibility finding on %s (%s): %s", b.j.name, b.path(), step, v)
		}
	}
}
