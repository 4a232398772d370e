package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/web/templates"
)

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
		return s.render(c, http.StatusBadRequest, templates.DashboardPage(s.page(c, "Dashboard", "dashboard"), v))
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
	if v.Chain, err = s.chainStatus(c); err != nil {
		return err
	}
	return s.render(c, http.StatusOK, templates.DashboardPage(s.page(c, "Dashboard", "dashboard"), v))
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
