package templates

import (
	"net/url"
	"strings"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

func bulkURL(id string) string { return "/bulk/" + url.PathEscape(id) }

// plural says n things: "1 pass", "3 passes".
func plural(n int, one string) string {
	if n == 1 {
		return "1 " + one
	}
	many := one + "s"
	if one == "pass" {
		many = "passes"
	}
	return thousands(n) + " " + many
}

func runStateLabel(s portal.RunState) string {
	switch s {
	case portal.RunPreview:
		return "Checked, waiting for confirmation"
	case portal.RunRunning:
		return "Issuing"
	case portal.RunCancelled:
		return "Stopped"
	case portal.RunDone:
		return "Finished"
	}
	return string(s)
}

func rowStateLabel(s portal.RowState) string {
	switch s {
	case portal.RowEligible:
		return "Eligible"
	case portal.RowIneligible:
		return "Left out"
	case portal.RowQueued:
		return "Waiting"
	case portal.RowIssued:
		return "Issued"
	case portal.RowRefused:
		return "Refused"
	case portal.RowFailed:
		return "Failed"
	case portal.RowUnknown:
		return "Not known yet"
	case portal.RowCancelled:
		return "Not sent"
	}
	return string(s)
}

func rowStateClass(s portal.RowState) string {
	switch s {
	case portal.RowEligible, portal.RowIssued:
		return "badge-success"
	case portal.RowIneligible, portal.RowRefused, portal.RowFailed:
		return "badge-danger"
	case portal.RowUnknown:
		return "badge-warning"
	}
	return "badge-neutral"
}

// passFrom and passUntil say when an issued row's pass is valid, as
// Graph answered its create.
func passFrom(p Page, w portal.BulkRow) string {
	if w.Start.IsZero() {
		return "—"
	}
	return when(p, w.Start)
}

func passUntil(p Page, w portal.BulkRow) string {
	if w.Start.IsZero() {
		return "—"
	}
	return when(p, w.Start.Add(time.Duration(w.Lifetime)*time.Minute))
}

// rowPass says what pass a row asks for: "From 4 Jan 2027, 08:30 PST,
// 8 hours, one sign-in".
func rowPass(p Page, w portal.BulkRow) string {
	s := "From when issued"
	if !w.Start.IsZero() {
		s = "From " + when(p, w.Start)
	}
	s += ", " + minutes(w.Lifetime)
	if w.OneTime {
		s += ", one sign-in"
	}
	return s
}

// bulkRunOf returns the cohort run a history record is a row of.
func bulkRunOf(e portal.Event) (string, bool) {
	id, ok := strings.CutPrefix(e.RequestID, portal.BulkRequestPrefix)
	return id, ok && id != ""
}
