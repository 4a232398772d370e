package e2e

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// noChromium is why the journeys skip on a machine without Chromium.
const noChromium = "browser tests need Chromium: apt-get install chromium (or set PORTAL_TEST_CHROMIUM)"

// stepTimeout bounds one browser step: a navigation, a click, a wait.
const stepTimeout = 30 * time.Second

// findChromium returns the Chromium to drive: PORTAL_TEST_CHROMIUM (a path
// or a name on PATH), else chromium or chromium-browser from PATH. It skips
// the test when there is none, and fails it when PORTAL_TEST_CHROMIUM names
// something that is not there: a setting that is wrong must not pass for a
// missing browser.
func findChromium(t *testing.T) string {
	t.Helper()
	if name := os.Getenv("PORTAL_TEST_CHROMIUM"); name != "" {
		path, err := exec.LookPath(name)
		if err != nil {
			t.Fatalf("PORTAL_TEST_CHROMIUM=%s: %v", name, err)
		}
		return path
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	tally.skipped.Add(1)
	t.Skip(noChromium)
	return ""
}

// journey is one user journey: its own portal on its own demo tenant, and
// the browsers it opens. Journeys share nothing, so they run in parallel.
type journey struct {
	t        *testing.T
	name     string
	portal   *portal
	chromium string
	shots    string
}

// newJourney finds Chromium (or skips), starts a portal and prepares the
// screenshot directory. name prefixes the journey's screenshots.
func newJourney(t *testing.T, name string, opts portalOptions) *journey {
	t.Helper()
	chromium := findChromium(t)
	dir := os.Getenv("PORTAL_TEST_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	shots := filepath.Join(dir, "screenshots")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	j := &journey{t: t, name: name, portal: startPortal(t, opts), chromium: chromium, shots: shots}
	tally.journeys.Add(1)
	return j
}

// browser is one Chromium with one tab, and what the tab reported: every
// JavaScript error, console error, browser-log error and CSP violation
// on any page it showed.
type browser struct {
	t   *testing.T
	j   *journey
	ctx context.Context

	mu        sync.Mutex
	problems  []string
	reported  int             // problems already turned into test errors
	documents map[string]bool // URLs that loaded as documents
	dialogs   []string        // questions the pages asked (window.confirm)
	logged    int             // dialogs already logged
	phone     bool            // the tab emulates a phone (emulatePhone)
}

// cspBinding is the function through which pages report CSP violations
// to the test (Runtime.addBinding).
const cspBinding = "portalTestCSPViolation"

// cspListener runs in every document before the page's own scripts. It is
// injected through the DevTools protocol, so the page's CSP does not apply
// to it; it only listens.
const cspListener = `document.addEventListener('securitypolicyviolation', function (e) {
  window.` + cspBinding + `(JSON.stringify({
    page: location.origin + location.pathname, directive: e.effectiveDirective || e.violatedDirective,
    blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber, sample: e.sample
  }));
}, true);`

// newBrowser starts a headless Chromium with a fresh profile. It closes
// when the test ends, after a last check that nothing went wrong.
func (j *journey) newBrowser() *browser {
	t := j.t
	t.Helper()
	b := &browser{t: t, j: j, documents: map[string]bool{}}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(j.chromium),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests may run as root, in a container
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(b.listen))
	b.ctx = ctx
	t.Cleanup(func() {
		b.checkClean("the end of the journey")
		cancelTab()
		cancelAlloc()
	})
	// The first Do starts the browser: without a timeout, so that the
	// browser lives as long as the journey.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium %s: %v", j.chromium, err)
	}
	b.call("install the CSP listener", func(ctx context.Context) error {
		if _, err := chromedp.Call(ctx, runtime.AddBinding, runtime.AddBindingParams{Name: cspBinding}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspListener})
		return err
	})
	b.call("grant clipboard access", func(ctx context.Context) error {
		for _, name := range []string{"clipboard-read", "clipboard-write"} {
			_, err := chromedp.CallBrowser(ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
				Permission: &cdpbrowser.PermissionDescriptor{Name: name},
				Setting:    cdpbrowser.PermissionSettingGranted,
				Origin:     j.portal.url,
			})
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		return nil
	})
	// A page that asks for a confirmation gets one, as a person would
	// give it; the question is logged at the next check.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dialogs = append(b.dialogs, ev.Message)
			b.mu.Unlock()
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return b
}

// listen sees every event of the tab, in order, on the tab's reading
// loop: it only records.
func (b *browser) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventResponseReceived:
		if ev.Type == network.ResourceTypeDocument {
			b.documents[ev.Response.URL] = true
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		b.problems = append(b.problems, fmt.Sprintf("JavaScript exception at %s:%d: %s", withoutQuery(d.URL), d.LineNumber+1, text))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			b.problems = append(b.problems, fmt.Sprintf("console.%s: %s", ev.Type, consoleArgs(ev.Args)))
		}
	case *log.EventEntryAdded:
		e := ev.Entry
		// A page that answers with an error status is logged as a failed
		// load; the journeys check those statuses themselves. So is the
		// browser's own probe for /favicon.ico, which no page asks for. A
		// failed script, stylesheet or htmx request is a problem.
		if e.Level != log.EntryLevelError ||
			(e.Source == log.EntrySourceNetwork && (b.documents[e.URL] || isFaviconProbe(e.URL))) {
			return
		}
		b.problems = append(b.problems, fmt.Sprintf("browser log (%s) %s: %s", e.Source, withoutQuery(e.URL), e.Text))
	case *runtime.EventBindingCalled:
		if ev.Name == cspBinding {
			b.problems = append(b.problems, "CSP violation: "+ev.Payload)
		}
	}
}

// withoutQuery drops the query of a page address for messages: after a
// sign-in it holds the authorization code.
func withoutQuery(u string) string {
	base, _, _ := strings.Cut(u, "?")
	return base
}

// isFaviconProbe reports whether u is the icon address browsers try when
// a page names no icon.
func isFaviconProbe(u string) bool {
	p, err := url.Parse(u)
	return err == nil && p.Path == "/favicon.ico"
}

func consoleArgs(args []*runtime.RemoteObject) string {
	var parts []string
	for _, a := range args {
		switch {
		case len(a.Value) > 0:
			parts = append(parts, string(a.Value))
		case a.Description != "":
			parts = append(parts, a.Description)
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}

// checkClean fails the test for every problem the tab reported since the
// last check, and logs the questions pages asked.
func (b *browser) checkClean(where string) {
	b.t.Helper()
	b.mu.Lock()
	fresh, asked := b.problems[b.reported:], b.dialogs[b.logged:]
	b.reported, b.logged = len(b.problems), len(b.dialogs)
	b.mu.Unlock()
	for _, p := range fresh {
		b.t.Errorf("%s (by %s): %s", b.j.name, where, p)
	}
	for _, q := range asked {
		b.t.Logf("%s (by %s): the page asked %q and the test answered OK", b.j.name, where, q)
	}
}

// call runs f on the tab with the step timeout and fails the test if it
// fails.
func (b *browser) call(what string, f func(ctx context.Context) error) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := f(ctx); err != nil {
		b.t.Fatalf("%s: %s: %v", b.j.name, what, err)
	}
}

// do runs the steps, in order.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.call(what, func(ctx context.Context) error { return chromedp.Do(ctx, steps...) })
}

// navigation runs the steps, which must make the tab load a page, waits
// for that page and returns its response.
func (b *browser) navigation(what string, steps ...chromedp.Action[chromedp.Void]) *network.Response {
	b.t.Helper()
	var resp *network.Response
	b.call(what, func(ctx context.Context) error {
		var err error
		resp, err = chromedp.RunResponse(ctx, steps...)
		if err == nil && resp == nil {
			err = fmt.Errorf("no response")
		}
		return err
	})
	return resp
}

// header returns a response header, whatever the case of its name.
func header(resp *network.Response, name string) string {
	for k, v := range resp.Headers {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

// open goes to a portal path as if typed into the address bar, and
// returns the HTTP status of the page it lands on.
func (b *browser) open(path string) int {
	b.t.Helper()
	return int(b.navigation("open "+path, chromedp.Navigate(b.j.portal.url+path)).Status)
}

// click clicks the element with the mouse; the click must load a page.
// It returns the HTTP status of that page.
func (b *browser) click(sel string) int {
	b.t.Helper()
	return int(b.navigation("click "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)).Status)
}

// clickInPlace clicks an element that changes the page without loading
// another.
func (b *browser) clickInPlace(sel string) {
	b.t.Helper()
	b.do("click "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// typeInto clicks into a field and types, as a person with a mouse does.
func (b *browser) typeInto(sel, text string) {
	b.t.Helper()
	b.do("type into "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible), chromedp.KeyEvent(text))
}

// press sends keys to whatever has the focus.
func (b *browser) press(keys string) {
	b.t.Helper()
	b.do(fmt.Sprintf("press %q", keys), chromedp.KeyEvent(keys))
}

// pressToNavigate presses keys that must load a page, and returns the
// HTTP status of that page.
func (b *browser) pressToNavigate(keys string) int {
	b.t.Helper()
	return int(b.navigation(fmt.Sprintf("press %q", keys), chromedp.KeyEvent(keys)).Status)
}

// waitVisible waits until the element is shown.
func (b *browser) waitVisible(sel string) {
	b.t.Helper()
	b.do("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// evaluate returns the value of a JavaScript expression in the page.
func evaluate[T any](b *browser, expr string, opts ...chromedp.EvaluateOption) T {
	b.t.Helper()
	var v T
	label := expr
	if len(label) > 80 {
		label = label[:80] + "…"
	}
	b.call("evaluate "+label, func(ctx context.Context) error {
		var err error
		v, err = chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
		return err
	})
	return v
}

// js quotes s as a JavaScript string literal.
func js(s string) string {
	var out strings.Builder
	out.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			out.WriteByte('\\')
			out.WriteRune(r)
		case r < 0x20 || r == 0x2028 || r == 0x2029:
			fmt.Fprintf(&out, `\u%04x`, r)
		default:
			out.WriteRune(r)
		}
	}
	out.WriteByte('"')
	return out.String()
}

// text returns the rendered text of the first element that matches, or
// "" when none does.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return evaluate[string](b, `(function(){ var e = document.querySelector(`+js(sel)+`); return e ? e.innerText.trim() : ""; })()`)
}

// exists reports whether an element matches.
func (b *browser) exists(sel string) bool {
	b.t.Helper()
	return evaluate[bool](b, `document.querySelector(`+js(sel)+`) !== null`)
}

// value returns the current value of a form field.
func (b *browser) value(sel string) string {
	b.t.Helper()
	return evaluate[string](b, `document.querySelector(`+js(sel)+`).value`)
}

// path returns the path and query of the page the tab shows.
func (b *browser) path() string {
	b.t.Helper()
	return evaluate[string](b, `location.pathname + location.search`)
}

// wantHeading fails the test unless the page's h1 is want.
func (b *browser) wantHeading(want string) {
	b.t.Helper()
	if got := b.text("h1"); got != want {
		b.t.Fatalf("%s: the page %s has the heading %q, want %q", b.j.name, b.path(), got, want)
	}
}

// wantText fails the test unless the page shows each of the texts.
func (b *browser) wantText(texts ...string) {
	b.t.Helper()
	body := b.text("body")
	for _, want := range texts {
		if !strings.Contains(body, want) {
			b.t.Errorf("%s: the page %s does not show %q; it shows:\n%s", b.j.name, b.path(), want, body)
		}
	}
}

// signIn goes to the portal, which sends the browser to the demo's
// OpenID provider, and picks the persona on its picker. It returns the
// HTTP status of the page the sign-in lands on.
func (b *browser) signIn(persona string) int {
	b.t.Helper()
	b.open("/")
	return b.pickPersona(persona)
}

// pickPersona picks the persona on the provider's picker, which the tab
// must show, and returns the HTTP status of the page the sign-in lands on.
func (b *browser) pickPersona(persona string) int {
	b.t.Helper()
	b.wantPicker()
	button := `button.persona[value="` + persona + `"]`
	b.waitVisible(button)
	return b.click(button)
}

// wantPicker fails the test unless the tab shows the demo provider's
// persona picker: a page of the provider, not of the portal.
func (b *browser) wantPicker() {
	b.t.Helper()
	origin := evaluate[string](b, `location.origin`)
	if want := b.j.portal.demo.Provider.Issuer(); origin != want {
		b.t.Fatalf("%s: the tab shows %s%s, want the provider's persona picker at %s", b.j.name, origin, b.path(), want)
	}
	b.waitVisible(`button.persona`)
}

// signOut signs out with the button of the top bar, and waits for the
// portal's Signed out page.
func (b *browser) signOut() {
	b.t.Helper()
	if status := b.click(`header .usermenu form[action="/auth/logout"] button[type="submit"]`); status != http.StatusOK {
		b.t.Fatalf("%s: signing out ended with %d on %s", b.j.name, status, b.path())
	}
	b.wantHeading("Signed out")
}

// signInAsOperator signs in as the operator persona, who lands on the
// search page.
func (b *browser) signInAsOperator() {
	b.t.Helper()
	if status := b.signIn("operator"); status != http.StatusOK {
		b.t.Fatalf("%s: signing in as the operator ended with %d on %s", b.j.name, status, b.path())
	}
	b.wantHeading("Find a user")
}

// search types the query into the search box, with the mouse's help, and
// waits for the results htmx swaps in.
func (b *browser) search(query string) {
	b.t.Helper()
	b.typeInto("#q", query)
	b.press(kb.Enter)
	b.waitVisible("#results table")
}

// openUser clicks the user's link in the search results and returns the
// HTTP status of the user page.
func (b *browser) openUser(u seededUser) int {
	b.t.Helper()
	return b.click(`#results a[href="/users/` + u.ID + `"]`)
}

// focus describes the focused element and how it is drawn.
type focus struct {
	Tag          string `json:"tag"`
	ID           string `json:"id"`
	Text         string `json:"text"`
	OutlineStyle string `json:"outlineStyle"`
	OutlineWidth string `json:"outlineWidth"`
	BoxShadow    string `json:"boxShadow"`
	FocusVisible bool   `json:"focusVisible"`
}

func (f focus) String() string {
	return fmt.Sprintf("<%s id=%q> %q (outline %s %s, box-shadow %s, :focus-visible %t)",
		f.Tag, f.ID, f.Text, f.OutlineStyle, f.OutlineWidth, f.BoxShadow, f.FocusVisible)
}

// indicated reports whether the focused element shows a focus indicator:
// an outline or a box shadow.
func (f focus) indicated() bool {
	return (f.OutlineStyle != "none" && f.OutlineWidth != "0px") || (f.BoxShadow != "" && f.BoxShadow != "none")
}

// focused returns the element that has the keyboard focus.
func (b *browser) focused() focus {
	b.t.Helper()
	return evaluate[focus](b, `(function () {
  var e = document.activeElement;
  if (!e || e === document.body) { return {tag: "body", id: "", text: "", outlineStyle: "none", outlineWidth: "0px", boxShadow: "none", focusVisible: false}; }
  var s = getComputedStyle(e);
  return {tag: e.tagName.toLowerCase(), id: e.id, text: (e.innerText || e.value || "").trim().slice(0, 60),
    outlineStyle: s.outlineStyle, outlineWidth: s.outlineWidth, boxShadow: s.boxShadow, focusVisible: e.matches(":focus-visible")};
})()`)
}

// tabTo presses Tab until the element that matches sel has the focus, as
// a keyboard user moves through a page, and returns it.
func (b *browser) tabTo(sel string) focus {
	b.t.Helper()
	const maxTabs = 40
	var path []string
	for range maxTabs {
		if evaluate[bool](b, `document.activeElement !== null && document.activeElement.matches(`+js(sel)+`)`) {
			return b.focused()
		}
		b.press(kb.Tab)
		path = append(path, b.focused().String())
	}
	b.t.Fatalf("%s: %d presses of Tab on %s never reached %s; the focus went:\n%s", b.j.name, maxTabs, b.path(), sel, strings.Join(path, "\n"))
	return focus{}
}

// wantFocusIndicator fails the test unless the focused element shows a
// visible focus indicator.
func (b *browser) wantFocusIndicator() {
	b.t.Helper()
	if f := b.focused(); !f.indicated() {
		b.t.Errorf("%s: the focused element on %s shows no focus indicator: %s", b.j.name, b.path(), f)
	}
}

// historyBack goes back one page, as the browser's back button does, and
// waits for the page to show. It reports whether the browser restored the
// page from its back/forward cache instead of loading it.
func (b *browser) historyBack() (restored bool) {
	b.t.Helper()
	b.call("go back", func(ctx context.Context) error {
		hist, err := chromedp.Run(ctx, chromedp.NavigationEntries())
		if err != nil {
			return err
		}
		if hist.CurrentIndex < 1 {
			return fmt.Errorf("there is no page to go back to")
		}
		back := func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
			_, err := cdp.Call(ctx, t, page.NavigateToHistoryEntry, page.NavigateToHistoryEntryParams{EntryID: hist.Entries[hist.CurrentIndex-1].ID})
			return chromedp.Void{}, err
		}
		ev, err := chromedp.Run(ctx, chromedp.WaitEvent(page.FrameNavigated,
			func(ev page.EventFrameNavigated) bool { return ev.Frame.ParentID == "" }, back))
		if err != nil {
			return err
		}
		restored = ev.Type == page.NavigationTypeBackForwardCacheRestore
		return nil
	})
	b.waitUntil("the page to load", `document.readyState === "complete"`)
	return restored
}

// waitUntil evaluates a JavaScript condition until it holds. An error
// (the page is between documents, say) counts as "not yet".
func (b *browser) waitUntil(what, cond string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	var last error
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			b.t.Fatalf("%s: waiting for %s on %s: %v (last error: %v)", b.j.name, what, b.path(), ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// screenshot saves a full-page PNG of what the tab shows as
// <journey>-<step>.png.
func (b *browser) screenshot(step string) {
	b.t.Helper()
	var png []byte
	b.call("screenshot "+step, func(ctx context.Context) error {
		var err error
		png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
		return err
	})
	file := filepath.Join(b.j.shots, b.j.name+"-"+step+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s", file)
}

// keyPage records a key page of a journey: a screenshot, an
// accessibility check, and no JavaScript error or CSP violation so far.
func (b *browser) keyPage(step string) {
	b.t.Helper()
	b.screenshot(step)
	b.checkAccessibility(step)
	b.checkClean(step)
}

// download clicks an element that starts a download, such as a link with
// the download attribute, and returns the file's suggested name and its
// content once the browser has saved it. Downloads go to a temporary
// directory of the test.
func (b *browser) download(sel string) (name string, content []byte) {
	b.t.Helper()
	dir := b.t.TempDir()
	b.call("download with "+sel, func(ctx context.Context) error {
		events := true
		if _, err := chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
			Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &events,
		}); err != nil {
			return fmt.Errorf("allow downloads: %w", err)
		}
		begun := chromedp.BrowserEvents(ctx, cdpbrowser.DownloadWillBegin)
		progress := chromedp.BrowserEvents(ctx, cdpbrowser.DownloadProgress)
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)); err != nil {
			return err
		}
		next, stop := iter.Pull2(begun)
		defer stop()
		ev, err, ok := next()
		if !ok {
			return fmt.Errorf("clicking %s began no download", sel)
		}
		if err != nil {
			return fmt.Errorf("waiting for the download to begin: %w", err)
		}
		guid := ev.GUID
		name = ev.SuggestedFilename
		for ev, err := range progress {
			if err != nil {
				return fmt.Errorf("waiting for the download of %s: %w", name, err)
			}
			if ev.GUID != guid {
				continue
			}
			switch ev.State {
			case cdpbrowser.DownloadProgressStateCompleted:
				// allowAndName saves the file under its GUID.
				var rerr error
				content, rerr = os.ReadFile(filepath.Join(dir, guid))
				return rerr
			case cdpbrowser.DownloadProgressStateCanceled:
				return fmt.Errorf("the browser cancelled the download of %s", name)
			}
		}
		return fmt.Errorf("the download of %s never completed", name)
	})
	return name, content
}
