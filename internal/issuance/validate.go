package issuance

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tapportal/portal/internal/portal"
)

// Limits on the operator's free text.
const (
	MaxReasonLength = 500
	MaxTicketLength = 64
	// MaxScheduleAhead is how far ahead a start may be scheduled.
	MaxScheduleAhead = 30 * 24 * time.Hour
)

// FieldErrors maps form fields to what is wrong with them.
type FieldErrors map[string]string

// Error implements error.
func (fe FieldErrors) Error() string {
	keys := make([]string, 0, len(fe))
	for k := range fe {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+": "+fe[k])
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// CheckText validates a free-text field.
func CheckText(fe FieldErrors, field, label, v string, required bool, max int) {
	switch {
	case required && strings.TrimSpace(v) == "":
		fe[field] = label + " is required."
	case !utf8.ValidString(v):
		fe[field] = label + " is not valid text."
	case utf8.RuneCountInString(v) > max:
		fe[field] = fmt.Sprintf("%s is too long: %d characters, at most %d.", label, utf8.RuneCountInString(v), max)
	case strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\r' && r != '\t' }):
		fe[field] = label + " contains control characters."
	}
}

// ticketPattern is what ticket references look like in the ticketing
// tools helpdesks use: INC0012345, HD-42, #1234, CASE/2026/17.
var ticketPattern = regexp.MustCompile(`^[A-Za-z0-9#][A-Za-z0-9 ._#/:-]*$`)

// CheckReason validates a reason: required plain text. Markup is refused
// rather than stored, since the history is read in other tools too.
func CheckReason(fe FieldErrors, reason string) {
	CheckText(fe, "reason", "The reason", reason, true, MaxReasonLength)
	if _, bad := fe["reason"]; !bad && strings.ContainsAny(reason, "<>") {
		fe["reason"] = "The reason must be plain text: remove the angle brackets."
	}
}

// CheckTicket validates an optional ticket reference.
func CheckTicket(fe FieldErrors, ticket string) {
	CheckText(fe, "ticket", "The ticket reference", ticket, false, MaxTicketLength)
	if _, bad := fe["ticket"]; !bad && ticket != "" && !ticketPattern.MatchString(ticket) {
		fe["ticket"] = "The ticket reference may hold letters, digits, spaces and . _ # / : - only, for example INC0012345."
	}
}

// recordable returns text as the history may hold it: the text itself when
// it passes check, else a note of what was wrong with it. A request
// refused for another reason still records what it was sent, never raw
// text the forms would have refused (markup, control characters, invalid
// UTF-8, a length no form allows).
func recordable(text string, check func(FieldErrors, string), field string) string {
	fe := FieldErrors{}
	check(fe, text)
	msg, bad := fe[field]
	if !bad || strings.TrimSpace(text) == "" {
		return text
	}
	return "[not recorded: " + msg + "]"
}

// Validate checks the request against the form's rules and the policy.
func (r IssueRequest) Validate(p portal.Policy, now time.Time) FieldErrors {
	fe := FieldErrors{}
	CheckReason(fe, r.Reason)
	CheckTicket(fe, r.Ticket)
	if err := p.CheckLifetime(r.LifetimeMinutes); err != nil {
		fe["lifetime"] = portal.ErrorMessage(err)
	}
	if !r.Start.IsZero() {
		switch {
		case r.Start.Before(now.Add(-time.Minute)):
			fe["start"] = "The scheduled start is in the past."
		case r.Start.After(now.Add(MaxScheduleAhead)):
			fe["start"] = "The scheduled start is more than 30 days ahead."
		}
	}
	if p.OneTimeForced && !r.OneTime {
		fe["one_time"] = "The tenant policy requires one-time passes."
	}
	return fe
}
