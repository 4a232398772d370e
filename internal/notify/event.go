// Package notify posts the portal's security events to a webhook: each
// event is queued in the history store first, so that a notice survives a
// restart and never waits on the network, then sent, signed as the
// Standard Webhooks scheme describes, with retries and backoff until the
// receiver accepts it or it is dead, kept for a supervisor to requeue.
//
// With several replicas every one runs a Sender on the shared store; a
// delivery is leased to one sender at a time, so each event is sent once
// unless a sender stops mid-send. Receivers drop such a repeat by its
// webhook-id, which is the event's id on every attempt.
package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"
)

// Kind names what an event reports.
type Kind string

// The kinds of event. Kinds lists them; add a new one there too.
const (
	// KindPassIssued: the portal issued a pass.
	KindPassIssued Kind = "pass.issued"
	// KindPassElsewhereProtected: a pass was made outside the portal for
	// a protected account, as the directory audit log showed.
	KindPassElsewhereProtected Kind = "pass.elsewhere_protected"
	// KindRefusalsRepeated: an operator was refused again and again.
	KindRefusalsRepeated Kind = "refusals.repeated"
	// KindBulkRun: a bulk run was confirmed or finished.
	KindBulkRun Kind = "bulk.run"
	// KindApprovalRequested: an action waits for a supervisor's approval.
	KindApprovalRequested Kind = "approval.requested"
)

// Kinds returns every kind of event, the one list Valid checks against.
// It returns a new slice each time, so no caller can change another's.
func Kinds() []Kind {
	return []Kind{KindPassIssued, KindPassElsewhereProtected, KindRefusalsRepeated, KindBulkRun, KindApprovalRequested}
}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool { return slices.Contains(Kinds(), k) }

// Limits on an event's text: receivers show it in chat messages and
// tickets, and the store keeps it until it is delivered.
const (
	// MaxIDLength bounds an event id, which is also a header value.
	MaxIDLength = 128
	// MaxSummaryLength bounds the summary, in bytes.
	MaxSummaryLength = 500
	// MaxDetailLength bounds each text of the details, in bytes.
	MaxDetailLength = 256
)

// Event is one security event, the JSON body posted to the webhook.
type Event struct {
	// ID identifies the event, and is the webhook-id of every attempt to
	// send it: derive it from what the event is about (for example
	// "pass.issued:1234" for history record 1234), so that a notice
	// raised twice, by a retry or by two replicas, is queued once. Letters,
	// digits and . _ : - only, at most MaxIDLength.
	ID   string    `json:"id"`
	Kind Kind      `json:"kind"`
	Time time.Time `json:"time"`
	// Summary is one line for a person to read.
	Summary string  `json:"summary"`
	Details Details `json:"details"`
}

// Details are an event's facts, each set only where it applies. Nothing
// secret belongs here: never a passcode.
type Details struct {
	TargetID     string `json:"target_id,omitempty"`
	TargetUPN    string `json:"target_upn,omitempty"`
	TargetName   string `json:"target_name,omitempty"`
	OperatorID   string `json:"operator_id,omitempty"`
	OperatorName string `json:"operator_name,omitempty"`
	// RecordID is the history record the event is about.
	RecordID int64 `json:"record_id,omitempty"`
	// RunID is the bulk run the event is about.
	RunID string `json:"run_id,omitempty"`
	// Counts counts what the event sums up: refusals in a window, a bulk
	// run's rows by outcome.
	Counts map[string]int `json:"counts,omitempty"`
}

// Validate reports what is wrong with e, if anything.
func (e Event) Validate() error {
	var errs []error
	if e.ID == "" || len(e.ID) > MaxIDLength || !isID(e.ID) {
		errs = append(errs, fmt.Errorf("event id %q: want 1 to %d letters, digits or . _ : -", e.ID, MaxIDLength))
	}
	if !e.Kind.Valid() {
		errs = append(errs, fmt.Errorf("event kind %q: want one of %v", e.Kind, Kinds()))
	}
	if e.Time.IsZero() {
		errs = append(errs, errors.New("event time: not set"))
	}
	if e.Summary == "" {
		errs = append(errs, errors.New("event summary: empty"))
	}
	errs = append(errs, checkText("event summary", e.Summary, MaxSummaryLength))
	d := e.Details
	for _, f := range []struct{ name, value string }{
		{"target_id", d.TargetID}, {"target_upn", d.TargetUPN}, {"target_name", d.TargetName},
		{"operator_id", d.OperatorID}, {"operator_name", d.OperatorName}, {"run_id", d.RunID},
	} {
		errs = append(errs, checkText("event detail "+f.name, f.value, MaxDetailLength))
	}
	for k := range d.Counts {
		if k == "" {
			errs = append(errs, errors.New("event counts: an empty name"))
		}
		errs = append(errs, checkText("event count name", k, MaxDetailLength))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}

// Encode validates e and returns its JSON body.
func (e Event) Encode() ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	e.Time = e.Time.UTC()
	return json.Marshal(e)
}

func isID(s string) bool {
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == ':' || r == '-'
		if !ok {
			return false
		}
	}
	return true
}

// checkText refuses text that is too long, not UTF-8, or holds control
// characters, which would let one event forge lines in a receiver's log.
func checkText(name, s string, max int) error {
	switch {
	case len(s) > max:
		return fmt.Errorf("%s: %d bytes, want at most %d", name, len(s), max)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s: not UTF-8", name)
	case slices.ContainsFunc([]rune(s), unicode.IsControl):
		return fmt.Errorf("%s: holds a control character", name)
	}
	return nil
}
