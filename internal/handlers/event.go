package handlers

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/web/templates"
)

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
	if e.Action == portal.ActionIssue && e.Outcome == portal.OutcomeSuccess && e.TAPID != "" {
		// What became of the pass, read from Graph: a failure to read
		// says so on the page, the record stands.
		fu, current, err := s.cfg.Service.PassFollowUp(ctx, e)
		v.FollowUp = &templates.RecordFollowUp{FollowUp: fu, Current: current}
		if err != nil {
			v.FollowUp.Error = portal.ErrorMessage(err)
		}
	}
	nav := "history"
	if mine {
		nav = "my-history"
	}
	return s.render(c, http.StatusOK, templates.EventPage(s.page(c, fmt.Sprintf("Record %d", e.ID), nav), v, mine))
}
