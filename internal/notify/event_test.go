package notify_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tapportal/portal/internal/notify"
)

func validEvent() notify.Event {
	return notify.Event{
		ID:      "pass.issued:1234",
		Kind:    notify.KindPassIssued,
		Time:    time.Date(2026, 12, 2, 9, 30, 0, 0, time.FixedZone("CET", 3600)),
		Summary: "Priya issued a pass to Adele Vance.",
		Details: notify.Details{TargetID: "u-1", TargetName: "Adele Vance", OperatorID: "op-1", OperatorName: "Priya", RecordID: 1234},
	}
}

func TestEventValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(e *notify.Event)
		want   string // a part of the error; "" for none
	}{
		{"valid", func(*notify.Event) {}, ""},
		{"every kind", func(e *notify.Event) { e.Kind = notify.KindApprovalRequested }, ""},
		{"no id", func(e *notify.Event) { e.ID = "" }, "event id"},
		{"id with a space", func(e *notify.Event) { e.ID = "pass issued" }, "event id"},
		{"id with a newline", func(e *notify.Event) { e.ID = "a\r\nX-Injected: 1" }, "event id"},
		{"long id", func(e *notify.Event) { e.ID = strings.Repeat("a", notify.MaxIDLength+1) }, "event id"},
		{"unknown kind", func(e *notify.Event) { e.Kind = "pass.revoked" }, `event kind "pass.revoked"`},
		{"no time", func(e *notify.Event) { e.Time = time.Time{} }, "event time"},
		{"no summary", func(e *notify.Event) { e.Summary = "" }, "event summary: empty"},
		{"long summary", func(e *notify.Event) { e.Summary = strings.Repeat("x", notify.MaxSummaryLength+1) }, "event summary: 501 bytes"},
		{"summary forging a line", func(e *notify.Event) { e.Summary = "ok\nADMIN: all clear" }, "control character"},
		{"detail not UTF-8", func(e *notify.Event) { e.Details.TargetName = "\xff" }, "target_name: not UTF-8"},
		{"long detail", func(e *notify.Event) { e.Details.OperatorName = strings.Repeat("x", notify.MaxDetailLength+1) }, "operator_name"},
		{"empty count name", func(e *notify.Event) { e.Details.Counts = map[string]int{"": 1} }, "empty name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := validEvent()
			tc.change(&e)
			err := e.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate() = %v, want an error about %q", err, tc.want)
			}
		})
	}
}

func TestKinds(t *testing.T) {
	for _, k := range notify.Kinds() {
		if !k.Valid() {
			t.Errorf("%q.Valid() = false, want true", k)
		}
	}
	kinds := notify.Kinds()
	kinds[0] = "changed"
	if got := notify.Kinds()[0]; got != notify.KindPassIssued {
		t.Errorf("Kinds()[0] after a caller changed its copy = %q, want %q", got, notify.KindPassIssued)
	}
	if notify.Kind("").Valid() {
		t.Error(`Kind("").Valid() = true, want false`)
	}
}

// TestEventEncode pins the JSON receivers read: field names, UTC time,
// empty details left out.
func TestEventEncode(t *testing.T) {
	e := validEvent()
	e.Details.Counts = map[string]int{"refused": 5}
	body, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id":      "pass.issued:1234",
		"kind":    "pass.issued",
		"time":    "2026-12-02T08:30:00Z",
		"summary": "Priya issued a pass to Adele Vance.",
		"details": map[string]any{"target_id": "u-1", "target_name": "Adele Vance", "operator_id": "op-1", "operator_name": "Priya",
			"record_id": float64(1234), "counts": map[string]any{"refused": float64(5)}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Encode() mismatch (-want +got):\n%s", diff)
	}
	e.Kind = "nope"
	if _, err := e.Encode(); err == nil {
		t.Error("Encode(unknown kind) = nil error, want the validation error")
	}
}
