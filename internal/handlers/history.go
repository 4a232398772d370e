package handlers

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/web/templates"
)

// HistoryPageSize is the number of records a history page shows.
const HistoryPageSize = 50

// idPattern accepts object ids and user principal names, nothing that
// could surprise a query or a page.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9._%+#@'-]{1,256}$`)

// parseHistoryFilter reads the filter form. The dates are whole days in
// the viewer's time zone; To is inclusive.
func parseHistoryFilter(c echo.Context, mine bool) (portal.EventFilter, templates.HistoryFilter, map[string]string) {
	loc := location(c)
	form := templates.HistoryFilter{
		Operator: strings.TrimSpace(c.QueryParam("operator")),
		Target:   strings.TrimSpace(c.QueryParam("target")),
		Action:   c.QueryParam("action"),
		Outcome:  c.QueryParam("outcome"),
		From:     c.QueryParam("from"),
		To:       c.QueryParam("to"),
	}
	errs := map[string]string{}
	f := portal.EventFilter{Limit: HistoryPageSize}
	for _, x := range []struct {
		name, value string
		dst         *string
	}{{"operator", form.Operator, &f.OperatorID}, {"target", form.Target, &f.TargetID}} {
		if x.value == "" {
			continue
		}
		if !idPattern.MatchString(x.value) {
			errs[x.name] = "Enter an object id or a user principal name."
			continue
		}
		*x.dst = x.value
	}
	if mine {
		f.OperatorID = operator(c).ID
	}
	switch portal.Action(form.Action) {
	case "", portal.ActionIssue, portal.ActionRevoke, portal.ActionRetention:
		f.Action = portal.Action(form.Action)
	default:
		errs["action"] = "Choose an action from the list."
	}
	switch portal.Outcome(form.Outcome) {
	case "", portal.OutcomeSuccess, portal.OutcomeRefused, portal.OutcomeFailed, portal.OutcomePending:
		f.Outcome = portal.Outcome(form.Outcome)
	default:
		errs["outcome"] = "Choose an outcome from the list."
	}
	day := func(name, v string) time.Time {
		if v == "" {
			return time.Time{}
		}
		t, err := time.ParseInLocation("2006-01-02", v, loc)
		if err != nil || t.Year() < 2000 || t.Year() > 2200 {
			errs[name] = "Enter a date such as 2026-11-26."
			return time.Time{}
		}
		return t
	}
	f.From = day("from", form.From)
	if to := day("to", form.To); !to.IsZero() {
		f.To = to.AddDate(0, 0, 1)
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		errs["to"] = "The end date is before the start date."
	}
	if b := c.QueryParam("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 1 {
			errs["before"] = "The page link is malformed."
		}
		f.Before = n
	}
	return f, form, errs
}

// filterQuery is the filter as a query string, without the cursor.
func filterQuery(form templates.HistoryFilter, mine bool) string {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !mine {
		set("operator", form.Operator)
	}
	set("target", form.Target)
	set("action", form.Action)
	set("outcome", form.Outcome)
	set("from", form.From)
	set("to", form.To)
	return q.Encode()
}

func (s *Server) myHistory(c echo.Context) error { return s.historyList(c, true) }

func (s *Server) history(c echo.Context) error { return s.historyList(c, false) }

func (s *Server) historyList(c echo.Context, mine bool) error {
	f, form, errs := parseHistoryFilter(c, mine)
	v := templates.HistoryView{Mine: mine, Filter: form, Errors: errs, Query: filterQuery(form, mine), Paged: f.Before > 0}
	title, nav := "History", "history"
	if mine {
		title, nav = "My history", "my-history"
	} else {
		v.Export = "/history/export.csv?" + v.Query
	}
	if len(errs) > 0 {
		return render(c, http.StatusBadRequest, templates.HistoryPage(s.page(c, title, nav), v))
	}
	// One more than a page tells whether an older page exists.
	f.Limit = HistoryPageSize + 1
	events, err := s.cfg.History.List(c.Request().Context(), f)
	if err != nil {
		return err
	}
	if len(events) > HistoryPageSize {
		events = events[:HistoryPageSize]
		v.Next = events[len(events)-1].ID
	}
	// An intent and its outcome are one action to a reader: show the
	// outcome, and an intent only while it has none.
	v.Events = issuance.Settled(events)
	return render(c, http.StatusOK, templates.HistoryPage(s.page(c, title, nav), v))
}

func (s *Server) myEvent(c echo.Context) error { return s.event(c, true) }

func (s *Server) supervisorEvent(c echo.Context) error { return s.event(c, false) }

// event shows one record. An operator asking for someone else's record
// gets the same 404 as for a record that does not exist.
func (s *Server) event(c echo.Context, mine bool) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		return &portal.Error{Code: portal.ENotFound, Message: "There is no such history record."}
	}
	ctx := c.Request().Context()
	e, err := s.cfg.History.Get(ctx, id)
	if err == nil && mine && e.OperatorID != operator(c).ID {
		err = &portal.Error{Code: portal.ENotFound, Message: "There is no such history record."}
	}
	if err != nil {
		return err
	}
	v := templates.EventView{Event: e}
	if e.IntentID != 0 {
		if in, err := s.cfg.History.Get(ctx, e.IntentID); err == nil {
			v.Intent = &in
		}
	}
	nav := "history"
	if mine {
		nav = "my-history"
	}
	return render(c, http.StatusOK, templates.EventPage(s.page(c, fmt.Sprintf("Record %d", e.ID), nav), v, mine))
}

// csvHeader names the export's columns.
var csvHeader = []string{"id", "time", "action", "outcome", "operator_id", "operator_name", "target_id", "target_upn",
	"target_name", "tap_id", "lifetime_minutes", "one_time", "start", "reason", "ticket", "detail", "refusal_code",
	"graph_request_id", "request_id", "intent_id", "reconciled", "hash"}

// csvSafe defuses cells a spreadsheet would run as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// export streams the filtered history as CSV, row by row from the
// database, so memory stays flat however many records match.
func (s *Server) export(c echo.Context) error {
	f, _, errs := parseHistoryFilter(c, false)
	if len(errs) > 0 {
		for _, msg := range errs {
			return &portal.Error{Code: portal.EInvalid, Message: "The export filter is not valid: " + msg}
		}
	}
	f.Before = 0
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="tap-history-%s.csv"`, s.cfg.Service.Now().UTC().Format("20060102-150405")))
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	if err := w.Write(csvHeader); err != nil {
		return err
	}
	rows := 0
	err := s.cfg.History.Export(c.Request().Context(), f, func(e portal.Event) error {
		rows++
		rec := []string{
			strconv.FormatInt(e.ID, 10), csvTime(e.Time), string(e.Action), string(e.Outcome), e.OperatorID, csvSafe(e.OperatorName),
			e.TargetID, csvSafe(e.TargetUPN), csvSafe(e.TargetName), e.TAPID, strconv.Itoa(e.LifetimeMinutes),
			strconv.FormatBool(e.OneTime), csvTime(e.Start), csvSafe(e.Reason), csvSafe(e.Ticket), csvSafe(e.Detail),
			e.RefusalCode, e.GraphRequestID, e.RequestID, strconv.FormatInt(e.IntentID, 10), strconv.FormatBool(e.Reconciled), e.Hash,
		}
		if err := w.Write(rec); err != nil {
			return err
		}
		if rows%1000 == 0 {
			w.Flush()
			c.Response().Flush()
		}
		return w.Error()
	})
	w.Flush()
	if err != nil {
		// The status is sent: all that is left is to say so in the log
		// and cut the file short, which the client sees as an error.
		s.cfg.Logger.ErrorContext(c.Request().Context(), "export failed", "request_id", requestID(c), "rows", rows, "err", err)
		panic(http.ErrAbortHandler)
	}
	return w.Error()
}

// dashboard shows the charts for a period, by default the last 30 days.
func (s *Server) dashboard(c echo.Context) error {
	f, form, errs := parseHistoryFilter(c, false)
	if form.From == "" && form.To == "" && len(errs) == 0 {
		now := s.cfg.Service.Now().In(location(c))
		today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
		f.From, f.To = today.AddDate(0, 0, -29), today.AddDate(0, 0, 1)
		form.From, form.To = f.From.Format("2006-01-02"), today.Format("2006-01-02")
	}
	v := templates.DashboardView{Filter: form, Errors: errs}
	if len(errs) > 0 {
		return render(c, http.StatusBadRequest, templates.DashboardPage(s.page(c, "Dashboard", "dashboard"), v))
	}
	st, err := s.cfg.History.Stats(c.Request().Context(), f)
	if err != nil {
		return err
	}
	v.Stats = st
	v.PerDay = templates.DailyChart(fillDays(st.PerDay, f.From, f.To))
	v.Operator = templates.HBarChart("Passes issued per operator", "bar-issued", st.PerOperator)
	refusals := make([]portal.Count, len(st.RefusalsByReason))
	for i, r := range st.RefusalsByReason {
		refusals[i] = portal.Count{Label: issuance.RefusalLabel(r.Label), N: r.N}
	}
	v.Refusals = templates.HBarChart("Refusals by reason", "bar-refused", refusals)
	return render(c, http.StatusOK, templates.DashboardPage(s.page(c, "Dashboard", "dashboard"), v))
}

// fillDays gives every day of the period a bar, zero where nothing
// happened, so the chart's time axis is even.
func fillDays(days []portal.DayCount, from, to time.Time) []portal.DayCount {
	byDay := map[string]portal.DayCount{}
	for _, d := range days {
		byDay[d.Day.UTC().Format(time.DateOnly)] = d
	}
	if from.IsZero() && len(days) > 0 {
		from = days[0].Day
	}
	if to.IsZero() && len(days) > 0 {
		to = days[len(days)-1].Day.AddDate(0, 0, 1)
	}
	var out []portal.DayCount
	start := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
	for d := start; d.Before(to) && len(out) < 400; d = d.AddDate(0, 0, 1) {
		dc, ok := byDay[d.Format(time.DateOnly)]
		if !ok {
			dc = portal.DayCount{Day: d}
		}
		out = append(out, dc)
	}
	return out
}
