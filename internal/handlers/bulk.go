package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/tapportal/portal/internal/bulk"
	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/internal/session"
	"github.com/tapportal/portal/web/templates"
)

// Bulk configures cohort runs; a nil Config.Bulk turns them off.
type Bulk struct {
	Runs   portal.BulkRuns
	Limits bulk.Limits
	// Limit is the bulk rate limit per operator (PORTAL_BULK_RATE_LIMIT).
	Limit portal.Limit
	// Wake tells the runner that a run was confirmed.
	Wake func()
	// Sample, when set, writes the demo tenant's sample cohort for now.
	Sample func(now time.Time) string
}

// maxFileName bounds the file name kept with a run.
const maxFileName = 120

func bulkPath(id string) string { return "/bulk/" + url.PathEscape(id) }

// bulkUploadView is the cohort page's view with the runs the viewer may
// see: their own, or everyone's for a supervisor.
func (s *Server) bulkUploadView(c echo.Context) (templates.BulkUploadView, error) {
	b, op := s.cfg.Bulk, operator(c)
	v := templates.BulkUploadView{MaxRows: b.Limits.MaxRows, MaxSize: byteSize(b.Limits.MaxBytes), Sample: b.Sample != nil, Everyone: op.Supervisor}
	if b.Limit.Max > 0 {
		v.Limit = fmt.Sprintf("%d rows per %s", b.Limit.Max, portal.FormatMinutes(int(b.Limit.Window/time.Minute)))
	}
	owner := op.ID
	if op.Supervisor {
		owner = ""
	}
	runs, err := b.Runs.RecentRuns(c.Request().Context(), owner, 20)
	v.Runs = runs
	return v, err
}

// bulkPage shows the upload form and the latest runs.
func (s *Server) bulkPage(c echo.Context) error {
	v, err := s.bulkUploadView(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, templates.BulkPage(s.page(c, "Cohorts", "bulk"), v))
}

// bulkRefused shows the upload form again with why the file was refused.
func (s *Server) bulkRefused(c echo.Context, status int, fileName, msg string, lines []bulk.LineError) error {
	v, err := s.bulkUploadView(c)
	if err != nil {
		return err
	}
	v.Error, v.FileName = msg, fileName
	for _, l := range lines {
		v.LineErrors = append(v.LineErrors, l.Error())
	}
	return s.render(c, status, templates.BulkPage(s.page(c, "Cohorts", "bulk"), v))
}

// bulkTemplate serves the example cohort file.
func (s *Server) bulkTemplate(c echo.Context) error {
	return csvAttachment(c, "cohort-template.csv", bulk.Template)
}

// bulkSample serves the demo tenant's sample cohort.
func (s *Server) bulkSample(c echo.Context) error {
	if s.cfg.Bulk.Sample == nil {
		return echo.ErrNotFound
	}
	return csvAttachment(c, "demo-cohort.csv", s.cfg.Bulk.Sample(s.cfg.Service.Now()))
}

func csvAttachment(c echo.Context, name, body string) error {
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", []byte(body))
}

// bulkUpload reads a cohort file, checks every row as a single issue
// would be checked, and keeps the run for the operator to confirm. A file
// with a bad row is refused whole, with every bad row's line: nothing is
// kept and nothing issued.
func (s *Server) bulkUpload(c echo.Context) error {
	b, op, ctx := s.cfg.Bulk, operator(c), c.Request().Context()
	// The body was bounded before the CSRF check read it (bodyLimit).
	fh, err := c.FormFile("file")
	if err != nil {
		return s.bulkRefused(c, http.StatusBadRequest, "", "Choose a cohort file (CSV) to upload.", nil)
	}
	name := fileName(fh.Filename)
	f, err := fh.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	policy, err := s.cfg.Service.Policy(ctx)
	if err != nil {
		return err
	}
	now := s.cfg.Service.Now()
	rows, bad, err := bulk.Parse(f, b.Limits, policy, now)
	switch {
	case errors.Is(err, bulk.ErrTooLarge):
		return s.bulkRefused(c, http.StatusRequestEntityTooLarge, name, sentence(err.Error())+" Nothing was kept.", nil)
	case err != nil:
		return s.bulkRefused(c, http.StatusBadRequest, name, sentence(err.Error())+" Nothing was kept.", nil)
	case len(bad) > 0:
		return s.bulkRefused(c, http.StatusBadRequest, name, fmt.Sprintf(
			"%s has %s to fix: nothing was kept and nothing issued. Correct them and upload the file again.", name, problems(len(bad))), bad)
	}
	id := session.RandomToken()[:20]
	checked := bulk.Preview(ctx, s.cfg.Service, op, id, rows, now)
	run := portal.BulkRun{ID: id, OperatorID: op.ID, OperatorName: op.Name, FileName: name, Created: now, Updated: now,
		State: portal.RunPreview, PublicKey: []byte{}}
	if err := b.Runs.CreateRun(ctx, run, checked); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, bulkPath(id))
}

// fileName is the base name of an uploaded file, shortened.
func fileName(raw string) string {
	name := strings.TrimSpace(path.Base(strings.ReplaceAll(raw, `\`, "/")))
	if name == "." || name == "/" || name == "" || !utf8.ValidString(name) {
		return "cohort.csv"
	}
	if r := []rune(name); len(r) > maxFileName {
		name = string(r[:maxFileName])
	}
	return name
}

func problems(n int) string {
	if n == 1 {
		return "1 problem"
	}
	return fmt.Sprintf("%d problems", n)
}

// sentence starts s with a capital and ends it with a full stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	s = strings.ToUpper(string(r)) + s[n:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// bulkRun returns the run of the request if the viewer may see it: its
// operator, or a supervisor. Anyone else is told it does not exist.
func (s *Server) bulkRun(c echo.Context) (portal.BulkRun, bool, error) {
	run, err := s.cfg.Bulk.Runs.Run(c.Request().Context(), c.Param("id"))
	if err != nil {
		return run, false, err
	}
	op := operator(c)
	owner := run.OperatorID == op.ID
	if !owner && !op.Supervisor {
		return run, false, &portal.Error{Code: portal.ENotFound, Message: "No such bulk run."}
	}
	return run, owner, nil
}

// bulkRunPage shows a run: the preview to confirm, the progress, or the
// outcome with its passcodes waiting.
func (s *Server) bulkRunPage(c echo.Context) error {
	run, owner, err := s.bulkRun(c)
	if err != nil {
		return err
	}
	return s.renderRun(c, http.StatusOK, run, owner, "")
}

func (s *Server) renderRun(c echo.Context, status int, run portal.BulkRun, owner bool, msg string) error {
	rows, err := s.cfg.Bulk.Runs.Rows(c.Request().Context(), run.ID)
	if err != nil {
		return err
	}
	counts := map[portal.RowState]int{}
	sealed := 0
	for _, w := range rows {
		counts[w.State]++
		if w.Sealed != nil {
			sealed++
		}
	}
	waits, err := s.cfg.Service.RunApproval(c.Request().Context(), run.ID)
	if err != nil {
		return err
	}
	v := templates.BulkRunView{Run: run, Rows: rows, Owner: owner, Sealed: sealed, Error: msg, Approval: waits, Now: s.cfg.Service.Now(),
		HasKey:   owner && s.cfg.Sessions.Key(c.Request(), bulkPath(run.ID), run.OperatorID) != nil,
		Progress: progressOf(run, counts, s.cfg.Service.Now())}
	return s.render(c, status, templates.BulkRunPage(s.page(c, "Cohort "+run.FileName, "bulk"), v))
}

// progressOf says how far a run has got. While it runs, the run was last
// updated when it was confirmed, so the rate so far gives the time left.
func progressOf(run portal.BulkRun, counts map[portal.RowState]int, now time.Time) templates.BulkProgress {
	p := templates.BulkProgress{RunID: run.ID, State: run.State, Counts: counts}
	for st, n := range counts {
		switch {
		case st == portal.RowQueued:
			p.Total += n
		case st.Done() && st != portal.RowIneligible:
			p.Total += n
			p.Done += n
		}
	}
	if elapsed := now.Sub(run.Updated); run.State == portal.RunRunning && p.Done > 0 && p.Done < p.Total && elapsed > 0 {
		left := time.Duration(float64(elapsed) / float64(p.Done) * float64(p.Total-p.Done))
		p.ETA = approx(left)
	}
	return p
}

// approx says a duration roughly: "10 seconds", "3 minutes".
func approx(d time.Duration) string {
	switch {
	case d < 10*time.Second:
		return "a few seconds"
	case d < 90*time.Second:
		return fmt.Sprintf("%d seconds", int(d.Round(5*time.Second)/time.Second))
	}
	return portal.FormatMinutes(int(d.Round(time.Minute) / time.Minute))
}

// bulkProgress is the run's progress panel, polled while it runs; when
// the run has ended, htmx is told to reload the page.
func (s *Server) bulkProgress(c echo.Context) error {
	run, _, err := s.bulkRun(c)
	if err != nil {
		return err
	}
	counts, err := s.cfg.Bulk.Runs.RowCounts(c.Request().Context(), run.ID)
	if err != nil {
		return err
	}
	if run.State != portal.RunRunning {
		c.Response().Header().Set("HX-Refresh", "true")
	}
	return s.render(c, http.StatusOK, templates.BulkProgressPanel(progressOf(run, counts, s.cfg.Service.Now())))
}

// bulkConfirm starts a run. It needs a fresh sign-in, as a single issue
// does. The run's passcodes are sealed to a new public key; its private
// key goes to this browser alone, in a cookie for the run's pages, so the
// database holds passcodes that the portal alone cannot open.
func (s *Server) bulkConfirm(c echo.Context) error {
	b, ctx := s.cfg.Bulk, c.Request().Context()
	run, owner, err := s.bulkRun(c)
	if err != nil {
		return err
	}
	if !owner {
		return &portal.Error{Code: portal.EDenied, Message: "Only the operator who uploaded a run can confirm it."}
	}
	if run.State != portal.RunPreview {
		// Confirmed already (a second click, another tab).
		return c.Redirect(http.StatusSeeOther, bulkPath(run.ID))
	}
	op := operator(c)
	if !s.cfg.Service.FreshSignIn(op) {
		return s.reauthenticateTo(c, bulkPath(run.ID))
	}
	counts, err := b.Runs.RowCounts(ctx, run.ID)
	if err != nil {
		return err
	}
	if n := counts[portal.RowEligible]; b.Limit.Max > 0 && n > b.Limit.Max {
		return s.renderRun(c, http.StatusForbidden, run, owner, fmt.Sprintf(
			"The run has %d eligible rows, more than your bulk limit of %d per %s allows: split the file. Nothing was issued.",
			n, b.Limit.Max, portal.FormatMinutes(int(b.Limit.Window/time.Minute))))
	}
	public, private, err := bulk.NewKeys()
	if err != nil {
		return err
	}
	// Each eligible row meets the rules a single pass would: a cohort is
	// no way around a second pair of eyes.
	rows, err := b.Runs.Rows(ctx, run.ID)
	if err != nil {
		return err
	}
	reasons, err := s.cfg.Service.RunReasons(ctx, rows)
	if err != nil {
		return s.renderRun(c, http.StatusServiceUnavailable, run, owner, portal.ErrorMessage(err))
	}
	if len(reasons) > 0 {
		// The run waits for a second pair of eyes; the approval starts it
		// with this key, whose private half this browser keeps meanwhile.
		wait, err := s.cfg.Service.RequestRunApproval(ctx, op, run, counts[portal.RowEligible], counts[portal.RowIneligible], reasons, public)
		if err != nil {
			return err
		}
		if !wait.Again {
			if err := s.cfg.Sessions.SaveKey(c.Response(), bulkPath(run.ID), run.OperatorID, private, s.keyLifetime()); err != nil {
				return err
			}
		}
		return c.Redirect(http.StatusSeeOther, approvalPath(wait.Request.ID))
	}
	ok, err := bulk.Start(ctx, b.Runs, s.cfg.Service, op, run, public, s.cfg.Service.Now())
	if err != nil {
		return err
	}
	if ok {
		// Only the key of the confirmation that started the run opens its
		// passcodes.
		if err := s.cfg.Sessions.SaveKey(c.Response(), bulkPath(run.ID), run.OperatorID, private, s.cfg.Sessions.MaxAge()); err != nil {
			return err
		}
		b.Wake()
	}
	return c.Redirect(http.StatusSeeOther, bulkPath(run.ID))
}

// bulkCancel stops a run, by its operator or a supervisor: rows not yet
// sent are not sent.
func (s *Server) bulkCancel(c echo.Context) error {
	run, _, err := s.bulkRun(c)
	if err != nil {
		return err
	}
	now := s.cfg.Service.Now()
	if _, err := bulk.Cancel(c.Request().Context(), s.cfg.Bulk.Runs, run.ID, "Stopped by "+operator(c).Name+".", now); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, bulkPath(run.ID))
}

// bulkPasscodes shows a finished run's passcodes, once: they are taken
// from the database as they are opened with this browser's key, and the
// key is cleared. The page is not cached.
func (s *Server) bulkPasscodes(c echo.Context) error {
	b, ctx := s.cfg.Bulk, c.Request().Context()
	run, owner, err := s.bulkRun(c)
	if err != nil {
		return err
	}
	if !owner {
		return &portal.Error{Code: portal.EDenied, Message: "Only the operator who ran a cohort can see its passcodes."}
	}
	if run.State == portal.RunPreview || run.State == portal.RunRunning {
		return s.renderRun(c, http.StatusConflict, run, owner, "The passcodes are shown when the run has ended.")
	}
	key := s.cfg.Sessions.Key(c.Request(), bulkPath(run.ID), run.OperatorID)
	if key == nil {
		// Nothing is taken: the browser that holds the key can still.
		return s.renderRun(c, http.StatusForbidden, run, owner,
			"This browser does not hold the key to the passcodes: open this page in the browser that confirmed the run.")
	}
	rows, err := b.Runs.TakeSealed(ctx, run.ID)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return s.renderRun(c, http.StatusGone, run, owner, "The passcodes were shown already, and the portal does not keep them: revoke a pass whose passcode was lost and issue another.")
	}
	now := s.cfg.Service.Now()
	v := templates.BulkPasscodesView{Run: run, Now: now}
	for _, w := range rows {
		pc, err := bulk.Open(key, run.ID, w.Line, w.Sealed)
		p := templates.BulkPasscode{Row: w, Passcode: pc}
		if err != nil {
			p.Problem = "The passcode could not be opened with this browser's key: revoke this pass and issue another."
		}
		v.Rows = append(v.Rows, p)
	}
	detail := strings.TrimSpace(run.Detail + " " + fmt.Sprintf("%d passcodes shown %s.", len(rows), now.UTC().Format("2006-01-02 15:04 MST")))
	if _, err := b.Runs.SetRunState(ctx, run.ID, run.State, run.State, detail, now); err != nil {
		s.cfg.Logger.ErrorContext(ctx, "noting the passcodes shown", "run", run.ID, "err", err)
	}
	if run.State == portal.RunDone {
		s.cfg.Sessions.ClearKey(c.Response(), bulkPath(run.ID))
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return s.render(c, http.StatusOK, templates.BulkPasscodesPage(s.page(c, "Passcodes", "bulk"), v))
}
