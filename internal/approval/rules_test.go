package approval_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tapportal/portal/internal/approval"
	"github.com/tapportal/portal/internal/portal"
)

const (
	finance = "0f6a9c1e-2b1d-4c8e-9a43-5d2f1e7b8c90"
	payroll = "1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d"
	sales   = "9e8d7c6b-5a4f-4e3d-9c2b-1a0f9e8d7c6b"
)

func TestCheck(t *testing.T) {
	hours, err := approval.ParseHours("Mon-Fri 08:00-18:00 Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	everyDay, err := approval.ParseHours("Mon-Sun 08:00-18:00 Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	// Monday 2 March 2026, on GMT; Saturday the 7th.
	monday := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	saturday := time.Date(2026, 3, 7, 9, 12, 0, 0, time.UTC)
	all := approval.Rules{GroupIDs: []string{finance, payroll}, LifetimeOverMinutes: 120, MultiUse: true, Hours: hours, BulkRowsOver: 100}
	groups := []portal.Group{{ID: sales, DisplayName: "Sales"}, {ID: "0F6A9C1E-2B1D-4C8E-9A43-5D2F1E7B8C90", DisplayName: "Finance"}}
	reason := func(code, msg string) approval.Reason { return approval.Reason{Code: code, Message: msg} }
	for _, tc := range []struct {
		name  string
		rules approval.Rules
		req   approval.Request
		want  []approval.Reason
	}{
		{"no rules, a long multi-use pass at the weekend", approval.Rules{},
			approval.Request{Time: saturday, Groups: groups, LifetimeMinutes: 480}, nil},
		{"a short one-time pass in hours, to no watched group", all,
			approval.Request{Time: monday, Groups: groups[:1], LifetimeMinutes: 60, OneTime: true}, nil},
		{"a lifetime exactly at the limit", all,
			approval.Request{Time: monday, LifetimeMinutes: 120, OneTime: true}, nil},
		{"a lifetime a minute over the limit", all,
			approval.Request{Time: monday, LifetimeMinutes: 121, OneTime: true},
			[]approval.Reason{reason("lifetime", "The pass lasts 2 hours 1 minute, over the 2 hours that need a second pair of eyes.")}},
		{"eight hours over two", approval.Rules{LifetimeOverMinutes: 120},
			approval.Request{Time: monday, LifetimeMinutes: 480},
			[]approval.Reason{reason("lifetime", "The pass lasts 8 hours, over the 2 hours that need a second pair of eyes.")}},
		{"multi-use", approval.Rules{MultiUse: true},
			approval.Request{Time: monday, LifetimeMinutes: 60},
			[]approval.Reason{reason("multi_use", "The pass can be used more than once: a pass that is not one-time needs a second pair of eyes.")}},
		{"multi-use, the rule off", approval.Rules{LifetimeOverMinutes: 120},
			approval.Request{Time: monday, LifetimeMinutes: 60}, nil},
		{"a watched group, in another case", approval.Rules{GroupIDs: []string{finance}},
			approval.Request{Time: monday, Groups: groups, LifetimeMinutes: 60, OneTime: true},
			[]approval.Reason{reason("groups", "The user is in Finance, a group whose passes need a second pair of eyes.")}},
		{"two watched groups, one without a name", all,
			approval.Request{Time: monday, Groups: []portal.Group{{ID: payroll}, {ID: finance, DisplayName: "Finance"}}, LifetimeMinutes: 60, OneTime: true},
			[]approval.Reason{reason("groups", "The user is in "+payroll+" and Finance, groups whose passes need a second pair of eyes.")}},
		{"on Saturday", all,
			approval.Request{Time: saturday, LifetimeMinutes: 60, OneTime: true},
			[]approval.Reason{reason("hours", "The request was made on a Saturday at 09:12 (Europe/London), outside the working hours Mon-Fri 08:00-18:00.")}},
		{"exactly at the end of the hours", all,
			approval.Request{Time: time.Date(2026, 3, 2, 18, 0, 0, 0, time.UTC), LifetimeMinutes: 60, OneTime: true},
			[]approval.Reason{reason("hours", "The request was made on a Monday at 18:00 (Europe/London), outside the working hours Mon-Fri 08:00-18:00.")}},
		{"exactly at the start of the hours", all,
			approval.Request{Time: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC), LifetimeMinutes: 60, OneTime: true}, nil},
		{"the day the clocks go forward, 08:30 BST", approval.Rules{Hours: everyDay},
			approval.Request{Time: time.Date(2026, 3, 29, 7, 30, 0, 0, time.UTC), LifetimeMinutes: 60, OneTime: true}, nil},
		{"the day the clocks go forward, 18:30 BST", approval.Rules{Hours: everyDay},
			approval.Request{Time: time.Date(2026, 3, 29, 17, 30, 0, 0, time.UTC), LifetimeMinutes: 60, OneTime: true},
			[]approval.Reason{reason("hours", "The request was made on a Sunday at 18:30 (Europe/London), outside the working hours Mon-Sun 08:00-18:00.")}},
		{"no time, with hours set", approval.Rules{Hours: hours},
			approval.Request{LifetimeMinutes: 60, OneTime: true},
			[]approval.Reason{reason("hours", "The time of the request is not known, so it may fall outside the working hours Mon-Fri 08:00-18:00 (Europe/London).")}},
		{"everything at once, in the order of the codes", all,
			approval.Request{Time: saturday, Groups: groups, LifetimeMinutes: 480},
			[]approval.Reason{
				reason("groups", "The user is in Finance, a group whose passes need a second pair of eyes."),
				reason("lifetime", "The pass lasts 8 hours, over the 2 hours that need a second pair of eyes."),
				reason("multi_use", "The pass can be used more than once: a pass that is not one-time needs a second pair of eyes."),
				reason("hours", "The request was made on a Saturday at 09:12 (Europe/London), outside the working hours Mon-Fri 08:00-18:00."),
			}},
		{"a run exactly at the limit", all,
			approval.Request{Time: monday, Bulk: true, BulkRows: 100}, nil},
		{"a run a row over the limit", all,
			approval.Request{Time: monday, Bulk: true, BulkRows: 101},
			[]approval.Reason{reason("bulk", "The run has 101 eligible rows, over the 100 that need a second pair of eyes.")}},
		{"a run is no pass: its lifetime, groups and use are its rows'", all,
			approval.Request{Time: saturday, Bulk: true, BulkRows: 250, Groups: groups, LifetimeMinutes: 480},
			[]approval.Reason{
				reason("hours", "The request was made on a Saturday at 09:12 (Europe/London), outside the working hours Mon-Fri 08:00-18:00."),
				reason("bulk", "The run has 250 eligible rows, over the 100 that need a second pair of eyes."),
			}},
		{"a run, the rule off", approval.Rules{MultiUse: true},
			approval.Request{Time: monday, Bulk: true, BulkRows: 5000}, nil},
		{"a single pass is no run", approval.Rules{BulkRowsOver: 1},
			approval.Request{Time: monday, BulkRows: 5000, LifetimeMinutes: 60}, nil},
	} {
		got := tc.rules.Check(tc.req)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: Check() (-want +got):\n%s", tc.name, diff)
		}
		for _, r := range got {
			if !slices.Contains(approval.Codes(), r.Code) {
				t.Errorf("%s: Check() gave the code %q, which Codes() does not list", tc.name, r.Code)
			}
		}
	}
}

func TestRulesIsZero(t *testing.T) {
	hours, err := approval.ParseHours("Mon-Fri 08:00-18:00 UTC")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rules approval.Rules
		want  bool
	}{
		{approval.Rules{}, true},
		{approval.Rules{GroupIDs: []string{finance}}, false},
		{approval.Rules{LifetimeOverMinutes: 60}, false},
		{approval.Rules{MultiUse: true}, false},
		{approval.Rules{Hours: hours}, false},
		{approval.Rules{BulkRowsOver: 10}, false},
	} {
		if got := tc.rules.IsZero(); got != tc.want {
			t.Errorf("(%+v).IsZero() = %v, want %v", tc.rules, got, tc.want)
		}
	}
}

func TestLabel(t *testing.T) {
	for _, code := range approval.Codes() {
		if got := approval.Label(code); got == code || got == "" {
			t.Errorf("Label(%q) = %q, want words", code, got)
		}
	}
	if got := approval.Label("other"); got != "other" {
		t.Errorf("Label(%q) = %q, want the code itself", "other", got)
	}
}
