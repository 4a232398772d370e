package handlers

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/web/templates"
)

// HistoryPageSize is the number of records a history page shows.
const HistoryPageSize = 50

// parseHistoryFilter reads the filter form. The dates are whole days in
// the viewer's time zone; To is inclusive. The operator and the user are
// left as typed: resolvePeople turns names into ids.
func (s *Server) parseHistoryFilter(c echo.Context, mine bool) (portal.EventFilter, templates.HistoryFilter, map[string]string) {
	loc := s.location(c)
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
	for name, v := range map[string]string{"operator": form.Operator, "target": form.Target} {
		if v != "" && (utf8.RuneCountInString(v) > 256 || !utf8.ValidString(v) || strings.IndexFunc(v, unicode.IsControl) >= 0) {
			errs[name] = "Enter a name, a user principal name or an object id (at most 256 characters)."
		}
	}
	if mine {
		f.OperatorID, form.Operator = operator(c).ID, ""
	}
	if form.Action != "" {
		a, ok := portal.ParseAction(form.Action)
		if !ok {
			errs["action"] = "Choose an action from the list."
		}
		f.Action = a
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

// maxChoices is how many people a name that fits several lists.
const maxChoices = 10

// resolvePeople turns the operator and user typed into the filter into
// ids: an object id as it is, else the one person of the history whose
// name (or a user's UPN) holds the text (within the operator's own
// records when mine), or the one whose name or UPN it
// is exactly. A text that fits no one, or several, is a field error, with
// the candidates offered as links.
func (s *Server) resolvePeople(ctx context.Context, f *portal.EventFilter, form *templates.HistoryFilter, errs map[string]string, mine bool) error {
	for _, x := range []struct {
		kind  portal.People
		value string
		id    *string
		label *string
		who   string
	}{
		{portal.Operators, form.Operator, &f.OperatorID, &form.OperatorLabel, "operator"},
		{portal.Targets, form.Target, &f.TargetID, &form.TargetLabel, "user"},
	} {
		name := string(x.kind)
		if x.value == "" || errs[name] != "" || mine && x.kind == portal.Operators {
			continue
		}
		if portal.IsObjectID(x.value) {
			*x.id = strings.ToLower(x.value)
			continue
		}
		within := ""
		if mine {
			// An operator finds only the people of their own records.
			within = f.OperatorID
		}
		found, err := s.cfg.Review.FindPeople(ctx, x.kind, x.value, within, maxChoices+1)
		if err != nil {
			return err
		}
		var exact []portal.Person
		for _, p := range found {
			if strings.EqualFold(p.Name, x.value) || strings.EqualFold(p.UPN, x.value) {
				exact = append(exact, p)
			}
		}
		if len(exact) == 1 {
			found = exact
		}
		switch {
		case len(found) == 0:
			errs[name] = fmt.Sprintf("No %s in the history has a name like this.", x.who)
		case len(found) == 1:
			*x.id, *x.label = found[0].ID, found[0].Name
		default:
			if len(found) > maxChoices {
				errs[name] = fmt.Sprintf("More than %d people in the history fit: type more of the name.", maxChoices)
				found = found[:maxChoices]
			} else {
				errs[name] = fmt.Sprintf("%d people in the history fit: choose one.", len(found))
			}
			form.Choices = append(form.Choices, templates.PersonChoice{Field: name, People: found})
		}
	}
	return nil
}
