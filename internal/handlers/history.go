package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/web/templates"
)

func (s *Server) myHistory(c echo.Context) error { return s.historyList(c, true) }

func (s *Server) history(c echo.Context) error { return s.historyList(c, false) }

func (s *Server) historyList(c echo.Context, mine bool) error {
	f, form, errs := parseHistoryFilter(c, mine)
	v := templates.HistoryView{Mine: mine, Filter: form, Errors: errs, Query: filterQuery(form, mine), Paged: f.Before > 0}
	if !mine && c.QueryParam("done") == "sessions" {
		v.Notice = "Every session of this operator was ended: they must sign in again on every device."
	}
	title, nav := "History", "history"
	if mine {
		title, nav = "My history", "my-history"
	} else {
		v.Export = "/history/export.csv?" + v.Query
	}
	if len(errs) > 0 {
		return s.render(c, http.StatusBadRequest, templates.HistoryPage(s.page(c, title, nav), v))
	}
	// One more than a page tells whether an older page exists. An intent
	// and its outcome are one action to a reader: the store shows the
	// outcome, and an intent only while it has none.
	f.Limit, f.Fold = HistoryPageSize+1, true
	events, err := s.cfg.History.List(c.Request().Context(), f)
	if err != nil {
		return err
	}
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
	return s.render(c, http.StatusOK, templates.HistoryPage(s.page(c, title, nav), v))
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
