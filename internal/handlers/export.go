package handlers

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tapportal/portal/internal/portal"
)

// csvHeader names the export's columns.
var csvHeader = []string{"id", "time", "action", "outcome", "operator_id", "operator_name", "target_id", "target_upn",
	"target_name", "tap_id", "lifetime_minutes", "one_time", "start", "reason", "ticket", "detail", "refusal_code",
	"graph_request_id", "request_id", "intent_id", "reconciled", "hash", "privilege", "channel"}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// export streams the filtered history as CSV, row by row from the
// database, so memory stays flat however many records match.
func (s *Server) export(c echo.Context) error {
	f, form, errs := s.parseHistoryFilter(c, false)
	if err := s.resolvePeople(c.Request().Context(), &f, &form, errs, false); err != nil {
		return err
	}
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
	w := newCSVWriter(c.Response())
	if err := w.Write(csvHeader); err != nil {
		return err
	}
	rows := 0
	err := s.cfg.History.Export(c.Request().Context(), f, func(e portal.Event) error {
		rows++
		rec := []string{
			strconv.FormatInt(e.ID, 10), csvTime(e.Time), string(e.Action), string(e.Outcome), e.OperatorID, e.OperatorName,
			e.TargetID, e.TargetUPN, e.TargetName, e.TAPID, strconv.Itoa(e.LifetimeMinutes),
			strconv.FormatBool(e.OneTime), csvTime(e.Start), e.Reason, e.Ticket, e.Detail,
			e.RefusalCode, e.GraphRequestID, e.RequestID, strconv.FormatInt(e.IntentID, 10), strconv.FormatBool(e.Reconciled), e.Hash, e.Privilege,
			string(e.Channel),
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
