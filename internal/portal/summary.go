package portal

import (
	"slices"
	"strings"
	"time"
)

// Working hours, for the review's out-of-hours count: Monday to Friday,
// 08:00 to 18:00 in the reviewer's time zone.
const (
	WorkStartHour = 8
	WorkEndHour   = 18
)

// OutOfHours reports whether t falls outside working hours in loc.
func OutOfHours(t time.Time, loc *time.Location) bool {
	l := t.In(loc)
	if l.Weekday() == time.Saturday || l.Weekday() == time.Sunday {
		return true
	}
	return l.Hour() < WorkStartHour || l.Hour() >= WorkEndHour
}

// Totals count a period's actions by how they ended, and the passes the
// directory audit log shows made elsewhere.
type Totals struct {
	Issued, Revoked, Refused, Failed, Unknown int
	// MadeElsewhere and ProtectedElsewhere count passes created outside
	// the portal, and those for protected accounts.
	MadeElsewhere, ProtectedElsewhere int
}

// OperatorReview is one operator's line of the supervisor's review.
type OperatorReview struct {
	ID, Name        string
	Issued, Refused int
	// OutOfHours counts passes issued outside working hours; Repeated
	// counts passes to a user the operator had already issued one to in
	// the period.
	OutOfHours, Repeated int
}

// RefusalShare is the share of the operator's issue attempts refused, in
// percent.
func (o OperatorReview) RefusalShare() int {
	if o.Issued+o.Refused == 0 {
		return 0
	}
	return (100*o.Refused + (o.Issued+o.Refused)/2) / (o.Issued + o.Refused)
}

// Summary adds up a period's records, one Add at a time, oldest or newest
// first alike. Records are folded: an intent whose outcome is recorded is
// left out by the reader.
type Summary struct {
	Totals Totals
	// RevokedPerDay counts revocations by day (YYYY-MM-DD in UTC, as the
	// dashboard's daily chart).
	RevokedPerDay map[string]int
	loc           *time.Location
	operators     map[string]*OperatorReview
	issuedTo      map[[2]string]int
}

// NewSummary starts a summary whose days and hours are those of loc.
func NewSummary(loc *time.Location) *Summary {
	return &Summary{loc: loc, RevokedPerDay: map[string]int{}, operators: map[string]*OperatorReview{}, issuedTo: map[[2]string]int{}}
}

// Add counts one record.
func (s *Summary) Add(e Event) {
	if e.Action != ActionIssue && e.Action != ActionRevoke {
		return
	}
	op := s.operators[e.OperatorID]
	if op == nil {
		op = &OperatorReview{ID: e.OperatorID, Name: e.OperatorName}
		s.operators[e.OperatorID] = op
	}
	switch {
	case e.Outcome == OutcomeSuccess && e.Action == ActionIssue:
		s.Totals.Issued++
		op.Issued++
		if OutOfHours(e.Time, s.loc) {
			op.OutOfHours++
		}
		key := [2]string{e.OperatorID, strings.ToLower(e.TargetID)}
		if s.issuedTo[key]++; s.issuedTo[key] > 1 {
			op.Repeated++
		}
	case e.Outcome == OutcomeSuccess:
		s.Totals.Revoked++
		s.RevokedPerDay[e.Time.UTC().Format(time.DateOnly)]++
	case e.Outcome == OutcomeRefused:
		s.Totals.Refused++
		if e.Action == ActionIssue {
			op.Refused++
		}
	case e.Outcome == OutcomeFailed:
		s.Totals.Failed++
	case e.Outcome == OutcomeUnknown || e.Outcome == OutcomePending:
		s.Totals.Unknown++
	}
}

// Operators returns the operators' lines, most passes issued first; an
// operator with only revocations is left out.
func (s *Summary) Operators() []OperatorReview {
	var out []OperatorReview
	for _, o := range s.operators {
		if o.Issued+o.Refused > 0 {
			out = append(out, *o)
		}
	}
	slices.SortFunc(out, func(a, b OperatorReview) int {
		if a.Issued != b.Issued {
			return b.Issued - a.Issued
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}
