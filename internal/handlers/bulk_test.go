package handlers_test

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/app"
	"github.com/tapportal/portal/internal/demotest"
	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/portal"
)

// upload posts a cohort file as the upload form does.
func (b *browser) upload(csrf, name, content string) page {
	b.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	w.WriteField("csrf", csrf)
	if name != "" {
		f, _ := w.CreateFormFile("file", name)
		f.Write([]byte(content))
	}
	w.Close()
	req, _ := http.NewRequest(http.MethodPost, b.abs("/bulk"), &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return b.do(req, true)
}

var (
	rowRE       = regexp.MustCompile(`(?s)<tr data-line="(\d+)" data-state="([a-z]+)">(.*?)</tr>`)
	passcodeCel = regexp.MustCompile(`<td data-label="Passcode" data-csv data-csv-raw class="mono passcode-cell">([^<]+)</td>`)
)

// rowStates returns each row's state on a run page, by the user's name
// before the domain, and its text.
func rowStates(body string) (map[string]string, map[string]string) {
	states, texts := map[string]string{}, map[string]string{}
	for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
		text := html.UnescapeString(tagRE.ReplaceAllString(m[3], " "))
		for _, f := range strings.Fields(text) {
			if local, _, ok := strings.Cut(f, "@"); ok {
				states[local], texts[local] = m[2], text
			}
		}
	}
	return states, texts
}

// waitRun waits until the run has left state running.
func waitRun(t *testing.T, h *harness, id string) portal.BulkRun {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		run, err := h.App.Store.Run(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if run.State != portal.RunRunning {
			return run
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s still running after 30s", id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBulkRun runs the demo's sample cohort through the pages: the
// preview's verdicts, the confirmation, the progress, and the passcodes
// shown once, to the browser that confirmed the run alone, and nowhere
// else: not in the database, the logs, or any later page.
func TestBulkRun(t *testing.T) {
	h := newHarness(t, map[string]string{"PORTAL_APPROVAL_BULK_ROWS_OVER": "off"})
	b := h.signedIn(t, "operator")
	page := b.get("/bulk")
	if page.status != http.StatusOK || !strings.Contains(page.body, "Download the template") || !strings.Contains(page.body, `href="/bulk/sample.csv"`) {
		t.Fatalf("cohort page: %d %s", page.status, page.body)
	}
	tmpl := b.get("/bulk/template.csv")
	if tmpl.status != http.StatusOK || !strings.HasPrefix(tmpl.body, "user,start,lifetime_minutes,one_time,reason,ticket") ||
		!strings.Contains(tmpl.header.Get("Content-Disposition"), "cohort-template.csv") {
		t.Fatalf("template: %d %q %v", tmpl.status, tmpl.body, tmpl.header)
	}
	sample := b.get("/bulk/sample.csv")
	if sample.status != http.StatusOK || sample.body != app.SampleCohort(time.Now()) {
		t.Fatalf("sample: %d %q", sample.status, sample.body)
	}

	run := b.upload(csrfOf(t, page), "january.csv", sample.body)
	if run.status != http.StatusOK || !strings.HasPrefix(run.url.Path, "/bulk/") || !strings.Contains(run.body, "Cohort <bdi>january.csv</bdi>") {
		t.Fatalf("upload: %d %s %s", run.status, run.url, run.body)
	}
	id := strings.TrimPrefix(run.url.Path, "/bulk/")
	states, texts := rowStates(run.body)
	wantEligible := []string{"john.smith", "johnny.smithers", "sarah.lee", "ana.souza", "liam.murphy", "noah.wilson", "sophie.martin"}
	for _, u := range wantEligible {
		if states[u] != "eligible" {
			t.Errorf("%s: %q (%s), want eligible", u, states[u], texts[u])
		}
	}
	for u, why := range map[string]string{
		"oliver.grant": "Global Administrator", "rafael.costa": "eligible", "catherine.wallace": "group",
		"tomas.herrera": "holds a working pass", "victor.hale": "disabled", "new.starter": "No such user",
	} {
		if states[u] != "ineligible" || !strings.Contains(texts[u], why) {
			t.Errorf("%s: %q (%s), want ineligible saying %q", u, states[u], texts[u], why)
		}
	}
	if !strings.Contains(run.body, "7 rows eligible, 6 left out") || !strings.Contains(run.body, "Issue 7 passes") {
		t.Errorf("preview counts missing: %s", run.body)
	}
	if evs, _ := h.App.Store.List(t.Context(), portal.EventFilter{Limit: 10}); len(evs) != 0 {
		t.Fatalf("the preview recorded %d history records, want none: nothing is issued until confirmed", len(evs))
	}

	// Anyone but the operator and supervisors is told there is no such run.
	sup := h.signedIn(t, "supervisor")
	if p := sup.get("/bulk/" + id); p.status != http.StatusOK || strings.Contains(p.body, `id="confirm-run"`) {
		t.Errorf("supervisor's view: %d, confirm button shown: %v", p.status, strings.Contains(p.body, `id="confirm-run"`))
	}
	if p := sup.post("/bulk/"+id+"/confirm", url.Values{"csrf": {csrfOf(t, sup.get("/bulk"))}}); p.status != http.StatusForbidden {
		t.Errorf("a supervisor confirmed someone else's run: %d", p.status)
	}

	done := b.post("/bulk/"+id+"/confirm", url.Values{"csrf": {csrfOf(t, run)}})
	if done.status != http.StatusOK {
		t.Fatalf("confirm: %d %s", done.status, done.body)
	}
	final := waitRun(t, h, id)
	if final.State != portal.RunDone {
		t.Fatalf("run ended %s (%s), want done", final.State, final.Detail)
	}
	prog := b.get("/bulk/" + id + "/progress")
	if prog.header.Get("HX-Refresh") != "true" || !strings.Contains(prog.body, "7 of 7 rows done") || !strings.Contains(prog.body, "7 issued") {
		t.Errorf("progress after the run: %v %s", prog.header, prog.body)
	}
	result := b.get("/bulk/" + id)
	if states, _ := rowStates(result.body); states["john.smith"] != "issued" || !strings.Contains(result.body, "7 passcodes waiting") {
		t.Fatalf("result page: %v %s", states, result.body)
	}
	runs, err := h.App.Store.List(t.Context(), portal.EventFilter{Action: portal.ActionBulkRun})
	if err != nil || len(runs) != 1 || runs[0].RequestID != portal.BulkRequestPrefix+id || !strings.Contains(runs[0].Detail, "7 rows to issue, 6 left out") {
		t.Fatalf("the run's own history record: %+v, %v", runs, err)
	}
	if p := sup.get("/history?action=bulk_run"); !strings.Contains(p.body, "Cohort run") {
		t.Errorf("the history's cohort filter does not show the run: %s", p.body)
	}
	evs, err := h.App.Store.List(t.Context(), portal.EventFilter{Outcome: portal.OutcomeSuccess, Action: portal.ActionIssue, Limit: 50})
	if err != nil || len(evs) != 7 {
		t.Fatalf("successes in the history: %d, %v; want 7", len(evs), err)
	}
	for _, e := range evs {
		if e.RequestID != portal.BulkRequestPrefix+id || e.OperatorID != demotest.Personas[0] {
			t.Errorf("record %d: request %q operator %q, want it linked to run %s", e.ID, e.RequestID, e.OperatorID, id)
		}
	}

	if p := sup.get(fmt.Sprintf("/history/%d", evs[0].ID)); !strings.Contains(p.body, `href="/bulk/`+id+`" id="event-run"`) {
		t.Errorf("a row's history record does not link to its run: %s", p.body)
	}

	// Another browser of the same operator holds no key: it is refused,
	// and nothing is taken.
	other := h.signedIn(t, "operator")
	refused := other.post("/bulk/"+id+"/passcodes", url.Values{"csrf": {csrfOf(t, other.get("/bulk"))}})
	if refused.status != http.StatusForbidden || !strings.Contains(refused.body, "does not hold the key") {
		t.Fatalf("passcodes in a browser without the key: %d %s", refused.status, refused.body)
	}

	shown := b.post("/bulk/"+id+"/passcodes", url.Values{"csrf": {csrfOf(t, result)}})
	codes := passcodeCel.FindAllStringSubmatch(shown.body, -1)
	if shown.status != http.StatusOK || len(codes) != 7 || shown.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("passcodes page: %d, %d passcodes, Cache-Control %q", shown.status, len(codes), shown.header.Get("Cache-Control"))
	}
	again := b.post("/bulk/"+id+"/passcodes", url.Values{"csrf": {csrfOf(t, result)}})
	if again.status != http.StatusGone && again.status != http.StatusForbidden {
		t.Errorf("passcodes a second time: %d, want refused", again.status)
	}
	later := []string{again.body, b.get("/bulk/" + id).body, b.get("/bulk").body, b.get("/bulk/" + id + "/progress").body,
		sup.get("/history").body, h.dbDump(t), h.Logs.String()}
	for _, c := range codes {
		code := html.UnescapeString(c[1])
		if len(code) < 8 {
			t.Fatalf("passcode %q is too short to be one", code)
		}
		for i, s := range later {
			if leaks(s, code) {
				t.Errorf("passcode of a bulk row found in later output %d", i)
			}
		}
	}
}

// TestBulkUploadRefused: a file with bad rows, too large, or missing is
// refused with what is wrong and where, and nothing is kept.
func TestBulkUploadRefused(t *testing.T) {
	h := newHarness(t, map[string]string{"PORTAL_BULK_MAX_BYTES": "2048"})
	b := h.signedIn(t, "operator")
	csrf := csrfOf(t, b.get("/bulk"))
	bad := "user,start,lifetime_minutes,one_time,reason,ticket\n" +
		"john.smith@northwind.example,,60,no,First day,HR-1\n" +
		"sarah.lee@northwind.example,2027-01-04 08:30,60,no,First day,HR-2\n" +
		"john.smith@northwind.example,,60,maybe,,HR-3\n"
	tests := []struct {
		name, file, content string
		status              int
		want                []string
	}{
		{"bad rows", "bad.csv", bad, http.StatusBadRequest, []string{"bad.csv has 3 problems", "line 3, start", "has no zone", "line 4, one_time", "line 4, reason"}},
		{"too large", "big.csv", "user,reason\n" + strings.Repeat("x@northwind.example,First day\n", 100), http.StatusRequestEntityTooLarge, []string{"over 2 KiB"}},
		{"far too large", "huge.csv", strings.Repeat("x", 200<<10), http.StatusRequestEntityTooLarge, []string{"over 2 KiB"}},
		{"no file", "", "", http.StatusBadRequest, []string{"Choose a cohort file"}},
		{"not a cohort", "notes.csv", "name,phone\nJohn,555\n", http.StatusBadRequest, []string{"Nothing was kept"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := b.upload(csrf, tt.file, tt.content)
			if p.status != tt.status {
				t.Fatalf("status %d, want %d: %s", p.status, tt.status, p.body)
			}
			text := html.UnescapeString(p.body)
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("page lacks %q: %s", w, text)
				}
			}
		})
	}
	// A body that does not say its length is cut off at the limit too.
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	w.WriteField("csrf", csrf)
	f, _ := w.CreateFormFile("file", "streamed.csv")
	f.Write([]byte("user,reason\n" + strings.Repeat("x@northwind.example,First day\n", 5000)))
	w.Close()
	size := body.Len()
	req, _ := http.NewRequest(http.MethodPost, b.abs("/bulk"), io.MultiReader(&body))
	req.Header.Set("Content-Type", w.FormDataContentType())
	if p := b.do(req, true); req.ContentLength != 0 || p.status < 400 || p.status >= 500 {
		t.Errorf("a streamed body of %d KiB: %d, want refused", size>>10, p.status)
	}
	if runs, err := h.App.Store.RecentRuns(t.Context(), "", 10); err != nil || len(runs) != 0 {
		t.Fatalf("refused files left %d runs (%v), want none", len(runs), err)
	}
}

// TestBulkConfirmGuarded: confirming needs a fresh sign-in, and a run
// with more eligible rows than the bulk limit allows is refused whole.
func TestBulkConfirmGuarded(t *testing.T) {
	var ahead time.Duration
	h := &harness{demotest.Start(t, demotest.Options{Env: map[string]string{"PORTAL_BULK_RATE_LIMIT": "5/1h"},
		Now: func() time.Time { return time.Now().Add(ahead) }})}
	b := h.signedIn(t, "operator")
	run := b.upload(csrfOf(t, b.get("/bulk")), "january.csv", app.SampleCohort(time.Now()))
	id := strings.TrimPrefix(run.url.Path, "/bulk/")
	p := b.post("/bulk/"+id+"/confirm", url.Values{"csrf": {csrfOf(t, run)}})
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "more than your bulk limit of 5") {
		t.Fatalf("confirming 7 rows over a limit of 5: %d %s", p.status, p.body)
	}
	if r, _ := h.App.Store.Run(t.Context(), id); r.State != portal.RunPreview {
		t.Fatalf("run is %s after the refusal, want preview", r.State)
	}

	ahead = 20 * time.Minute
	req, _ := http.NewRequest(http.MethodPost, b.abs("/bulk/"+id+"/confirm"), strings.NewReader(url.Values{"csrf": {csrfOf(t, run)}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	stale := b.do(req, false)
	if stale.status != http.StatusSeeOther || !strings.HasPrefix(stale.header.Get("Location"), "/auth/login?reauth=1&return_to=%2Fbulk%2F"+id) {
		t.Fatalf("confirming with a sign-in 20 minutes old: %d %v, want sent to sign in again", stale.status, stale.header.Get("Location"))
	}
	if r, _ := h.App.Store.Run(t.Context(), id); r.State != portal.RunPreview {
		t.Fatalf("run is %s after a stale confirmation, want preview", r.State)
	}
}

// TestBulkRunWaitsForApproval: a run with more eligible rows than the
// rule allows waits for a supervisor when confirmed; approved, it starts
// by itself as its operator's, and its passcodes open in the browser that
// confirmed it.
func TestBulkRunWaitsForApproval(t *testing.T) {
	h := newHarness(t, nil)
	b := h.signedIn(t, "operator")
	page := b.get("/bulk")
	run := b.upload(csrfOf(t, page), "january.csv", b.get("/bulk/sample.csv").body)
	id := strings.TrimPrefix(run.url.Path, "/bulk/")
	asked := b.postNoFollow("/bulk/"+id+"/confirm", url.Values{"csrf": {csrfOf(t, run)}})
	loc := asked.header.Get("Location")
	if asked.status != http.StatusSeeOther || !strings.HasPrefix(loc, "/approvals/") {
		t.Fatalf("confirm = %d to %q, want a redirect to the request for approval", asked.status, loc)
	}
	if p := b.get("/bulk/" + id); !strings.Contains(p.body, "waits for a supervisor") || strings.Contains(p.body, `id="confirm-run"`) {
		t.Errorf("the run's page does not say it waits, or still offers to confirm it")
	}
	if r, _ := h.App.Store.Run(t.Context(), id); r.State != portal.RunPreview {
		t.Fatalf("the run is %s before its approval, want preview", r.State)
	}

	sup := h.signedIn(t, "supervisor")
	req := sup.get(loc)
	if !strings.Contains(req.body, "A cohort run") || !strings.Contains(req.body, "7 passes to issue") {
		t.Fatalf("the request's page does not describe the run: %s", req.body)
	}
	if p := sup.post(loc+"/approve", url.Values{"csrf": {csrfOf(t, req)}}); p.status != http.StatusOK || !strings.Contains(p.body, "The run started") {
		t.Fatalf("approve = %d: %s", p.status, p.body)
	}
	if final := waitRun(t, h, id); final.State != portal.RunDone {
		t.Fatalf("the approved run ended %s (%s), want done", final.State, final.Detail)
	}
	result := b.get("/bulk/" + id)
	shown := b.post("/bulk/"+id+"/passcodes", url.Values{"csrf": {csrfOf(t, result)}})
	if codes := passcodeCel.FindAllStringSubmatch(shown.body, -1); shown.status != http.StatusOK || len(codes) != 7 {
		t.Fatalf("passcodes = %d with %d passcodes, want the 7 in the confirming browser", shown.status, len(codes))
	}
	runs, err := h.App.Store.List(t.Context(), portal.EventFilter{Action: portal.ActionBulkRun})
	if err != nil || len(runs) != 1 || runs[0].OperatorID != demotest.Personas[0] {
		t.Errorf("the run's record = %+v, %v; want one, the operator's", runs, err)
	}
	if got := historyOf(t, h, ""); !slices.Contains(got, "approval_request:success") || !slices.Contains(got, "approval_approve:success") {
		t.Errorf("history = %v, want the request and its approval", got)
	}
}

// TestBulkRunWithAWatchedMember: a cohort is no way around a second pair
// of eyes. A run of two rows, under the rule on the size of runs, waits
// for approval when one row's user is in a group whose passes need it,
// and the request names that row.
func TestBulkRunWithAWatchedMember(t *testing.T) {
	h := newHarness(t, map[string]string{"PORTAL_APPROVAL_BULK_ROWS_OVER": "off"})
	b := h.signedIn(t, "operator")
	file := "user,start,lifetime_minutes,one_time,reason,ticket\r\n" +
		"ana.souza@" + graphemu.DemoDomain + ",,60,yes,First day,HR-1\r\n" +
		"mohammed.haddad@" + graphemu.DemoDomain + ",,60,yes,First day,HR-2\r\n"
	run := b.upload(csrfOf(t, b.get("/bulk")), "two.csv", file)
	id := strings.TrimPrefix(run.url.Path, "/bulk/")
	if states, texts := rowStates(run.body); states["ana.souza"] != "eligible" || states["mohammed.haddad"] != "eligible" {
		t.Fatalf("preview: %v %v, want both rows eligible", states, texts)
	}
	asked := b.postNoFollow("/bulk/"+id+"/confirm", url.Values{"csrf": {csrfOf(t, run)}})
	loc := asked.header.Get("Location")
	if asked.status != http.StatusSeeOther || !strings.HasPrefix(loc, "/approvals/") {
		t.Fatalf("confirm = %d to %q, want a redirect to the request for approval", asked.status, loc)
	}
	if r, _ := h.App.Store.Run(t.Context(), id); r.State != portal.RunPreview {
		t.Fatalf("the run is %s before its approval, want preview", r.State)
	}
	req := h.signedIn(t, "supervisor").get(loc)
	if !strings.Contains(req.body, "Line 3: The user is in Finance Team") {
		t.Errorf("the request does not say which row needs a second pair of eyes: %s", req.body)
	}
	if evs, _ := h.App.Store.List(t.Context(), portal.EventFilter{Action: portal.ActionIssue}); len(evs) != 0 {
		t.Errorf("%d issue records before the approval, want none", len(evs))
	}
}
