package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/web/templates"
)

func (s *Server) myHistory(c echo.Context) error { return s.historyList(c, true) }

func (s *Server) history(c echo.Context) error { return s.historyList(c, false) }

func (s *Server) historyList(c echo.Context, mine bool) error {
	f, form, errs := s.parseHistoryFilter(c, mine)
	if err := s.resolvePeople(c.Request().Context(), &f, &form, errs, mine); err != nil {
		return err
	}
	v := templates.HistoryView{Mine: mine, Filter: form, Errors: errs, Query: filterQuery(form, mine), Paged: f.Before > 0}
	if !mine && c.QueryParam("done") == "sessions" {
		v.Notice = "Every session of this operator was ended: they must sign in again on every device."
	}
	title, nav := "History", "history"
	if mine {
		title, nav = "My history", "my-history"
	} else {
		v.Export = "/history/export.csv?" + v.Query
		v.OperatorID = f.OperatorID
	}
	base := "/history"
	if mine {
		base = "/my-history"
	}
	v.Presets = presets(s.cfg.Service.Now().In(s.location(c)), form, base, mine)
	page := s.page(c, title, nav)
	page.Wide = true
	if len(errs) > 0 {
		return s.render(c, http.StatusBadRequest, templates.HistoryPage(page, v))
	}
	// One more than a page tells whether an older page exists. An intent
	// and its outcome are one action to a reader: the store shows the
	// outcome, and an intent only while it has none.
	f.Limit, f.Fold = HistoryPageSize+1, true
	ctx := c.Request().Context()
	events, err := s.cfg.History.List(ctx, f)
	if err != nil {
		return err
	}
	if v.Count, err = s.cfg.Review.Count(ctx, f, HistoryCountMax); err != nil {
		return err
	}
	v.CountMax, v.Counted = HistoryCountMax, true
	if len(events) > HistoryPageSize {
		events = events[:HistoryPageSize]
		v.Next = events[len(events)-1].ID
	}
	v.Events = events
	if !mine {
		if v.Chain, err = s.chainStatus(c); err != nil {
			return err
		}
	}
	return s.render(c, http.StatusOK, templates.HistoryPage(page, v))
}

// HistoryCountMax bounds the history's record count: beyond it the page
// says "more than", so that counting never costs more than a big page.
const HistoryCountMax = 10001

// presets are the review pages' one-click periods in the viewer's zone,
// keeping the rest of the filter: today, this week (from Monday), this
// month and last month.
func presets(now time.Time, form templates.HistoryFilter, base string, mine bool) []templates.Preset {
	day := func(t time.Time) string { return t.Format(time.DateOnly) }
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	monday := today.AddDate(0, 0, -(int(today.Weekday())+6)%7)
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, now.Location())
	var out []templates.Preset
	for _, p := range []struct {
		label    string
		from, to time.Time
	}{
		{"Today", today, today},
		{"This week", monday, today},
		{"This month", first, today},
		{"Last month", first.AddDate(0, -1, 0), first.AddDate(0, 0, -1)},
	} {
		f := form
		f.From, f.To = day(p.from), day(p.to)
		out = append(out, templates.Preset{Label: p.label, URL: base + "?" + filterQuery(f, mine),
			Current: form.From == f.From && form.To == f.To})
	}
	return out
}

// chainStatus reads the chain's status as of the newest checkpoint, for
// the supervisors' pages.
func (s *Server) chainStatus(c echo.Context) (*portal.ChainStatus, error) {
	st, err := s.cfg.History.ChainStatus(c.Request().Context())
	if err != nil {
		return nil, err
	}
	return &st, nil
}
