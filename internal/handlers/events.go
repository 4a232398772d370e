package handlers

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/web/templates"
)

// Events is what supervisors see of the security events posted to the
// webhook: how many wait, went and died, the dead ones, and a way to send
// a dead one again.
type Events interface {
	Counts(ctx context.Context) (templates.EventCounts, error)
	Dead(ctx context.Context) ([]templates.DeadEvent, error)
	// Requeue sends a dead event again; false when it was not dead.
	Requeue(ctx context.Context, id int64) (bool, error)
}

// eventsPage shows the security events' deliveries.
func (s *Server) eventsPage(c echo.Context) error {
	message := ""
	if c.QueryParam("done") == "requeued" {
		message = "The event is being sent again."
	}
	return s.renderEvents(c, http.StatusOK, message)
}

func (s *Server) renderEvents(c echo.Context, status int, message string) error {
	ctx := c.Request().Context()
	counts, err := s.cfg.Events.Counts(ctx)
	if err != nil {
		return err
	}
	dead, err := s.cfg.Events.Dead(ctx)
	if err != nil {
		return err
	}
	return s.render(c, status, templates.EventsPage(s.page(c, "Security events", "dashboard"),
		templates.EventsView{Counts: counts, Dead: dead, Message: message}))
}

// eventRequeue sends a dead event again, at once, records in the history
// who did, and goes back to the events page.
func (s *Server) eventRequeue(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return &portal.Error{Code: portal.ENotFound, Message: "There is no such event."}
	}
	ctx := c.Request().Context()
	ok, err := s.cfg.Events.Requeue(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return s.renderEvents(c, http.StatusConflict, "That event is not dead: it was sent again already, or delivered.")
	}
	sup := operator(c)
	if _, err := s.cfg.History.Record(ctx, portal.Event{Action: portal.ActionEventRequeue, Outcome: portal.OutcomeSuccess,
		OperatorID: sup.ID, OperatorName: sup.Name, RequestID: requestID(c),
		Detail: fmt.Sprintf("The security event of webhook delivery %d, dead after its last attempt, was queued to be sent again.", id)}); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/history/events?done=requeued")
}
