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
	f, form, errs := s.parseHistoryFilter(c, false)
	if err := s.resolvePeople(c.Request().Context(), &f, &form, errs, false); err != nil {
		return err
	}
	if form.From == "" && form.To == "" && len(errs) == 0 {
		now := s.cfg.Service.Now().In(s.location(c))
		today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
		f.From, f.To = today.AddDate(0, 0, -29), today.AddDate(0, 0, 1)
		form.From, form.To = f.From.Format("2006-01-02"), today.Format("2006-01-02")
	}
	v := templates.DashboardView{Filter: form, Errors: errs,
		Presets: presets(s.cfg.Service.Now().In(s.location(c)), form, "/history/dashboard", false)}
	if len(errs) > 0 {
		return s.render(c, http.StatusBadRequest, templates.DashboardPage(s.page(c, "Dashboard", "dashboard"), v))
	}
	ctx := c.Request().Context()
	if s.cfg.Events != nil {
		counts, err := s.cfg.Events.Counts(ctx)
		if err != nil {
			return err
		}
		v.Events = &counts
	}
	st, err := s.cfg.History.Stats(ctx, f)
	if err != nil {
		return err
	}
	v.Stats = st
	// The totals and the operators' lines, from one pass over the
	// period's records, folded as the history shows them.
	sum := portal.NewSummary(s.location(c))
	all := f
	all.Fold, all.Before = true, 0
	if err := s.cfg.History.Export(ctx, all, func(e portal.Event) error { sum.Add(e); return nil }); err != nil {
		return err
	}
	v.Totals, v.Operators = sum.Totals, sum.Operators()
	elsewhere := map[string]int{}
	if s.cfg.AuditLog != nil {
		passes, err := s.cfg.AuditLog.TenantPasses(ctx, portal.TenantPassFilter{Elsewhere: true, From: f.From, To: f.To, Limit: maxElsewhere})
		if err != nil {
			return err
		}
		v.ElsewhereRead, v.ElsewhereCapped = true, len(passes) == maxElsewhere
		for _, p := range passes {
			if p.Activity != portal.PassCreated {
				continue
			}
			v.Totals.MadeElsewhere++
			if p.Protected() {
				v.Totals.ProtectedElsewhere++
			}
			elsewhere[p.Time.UTC().Format(time.DateOnly)]++
		}
	}
	days := fillDays(st.PerDay, f.From, f.To)
	for i := range days {
		day := days[i].Day.Format(time.DateOnly)
		days[i].Revoked, days[i].Elsewhere = sum.RevokedPerDay[day], elsewhere[day]
	}
	v.PerDay = templates.DailyChart(days)
	v.Watch = templates.WatchChart(days)
	v.Operator = templates.HBarChart("Passes issued per operator", "bar-issued", st.PerOperator)
	refusals := make([]portal.Count, len(st.RefusalsByReason))
	for i, r := range st.RefusalsByReason {
		refusals[i] = portal.Count{Label: issuance.RefusalLabel(r.Label), N: r.N}
	}
	v.Refusals = templates.HBarChart("Refusals by reason", "bar-refused", refusals)
	if v.Chain, err = s.chainStatus(c); err != nil {
		return err
	}
	if s.cfg.Watches != nil {
		if v.Follow, err = s.followUp(c, f); err != nil {
			return err
		}
	}
	p := s.page(c, "Dashboard", "dashboard")
	p.Wide = true
	return s.render(c, http.StatusOK, templates.DashboardPage(p, v))
}

// followLimit bounds each list of passes to follow up on the dashboard.
const followLimit = 20

// followUp reads what the portal last saw of the period's passes.
func (s *Server) followUp(c echo.Context, f portal.EventFilter) (*templates.FollowView, error) {
	ctx := c.Request().Context()
	period := portal.WatchFilter{From: f.From, To: f.To, Limit: followLimit}
	v := &templates.FollowView{Limit: followLimit}
	var err error
	if v.Counts, err = s.cfg.Watches.WatchCounts(ctx, period); err != nil {
		return nil, err
	}
	if v.Counts.StillUsable > 0 {
		still := period
		still.StillUsable = true
		if v.StillUsable, err = s.cfg.Watches.Watches(ctx, still); err != nil {
			return nil, err
		}
	}
	if v.Counts.Unused > 0 {
		unused := period
		unused.Unused = true
		if v.Unused, err = s.cfg.Watches.Watches(ctx, unused); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// maxElsewhere bounds the passes made elsewhere the dashboard reads for
// its count and chart; beyond it the count says "+".
const maxElsewhere = 500

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
