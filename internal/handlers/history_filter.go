package handlers

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

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
	case "", portal.ActionIssue, portal.ActionRevoke, portal.ActionRetention, portal.ActionEndSessions:
		f.Action = portal.Action(form.Action)
	default:
		errs["action"] = "Choose an action from the list."
	}
	switch portal.Outcome(form.Outcome) {
	case "", portal.OutcomeSuccess, portal.OutcomeRefused, portal.OutcomeFailed, portal.OutcomePending, portal.OutcomeUnknown:
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
