package approval_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tapportal/portal/internal/approval"
	"github.com/tapportal/portal/internal/portal"
)

func TestDiff(t *testing.T) {
	base := approval.Snapshot{
		Eligible:       true,
		DisplayName:    "Alex Kim",
		AccountEnabled: true,
		Groups:         []portal.SnapshotGroup{{ID: sales, Name: "Sales"}, {ID: finance, Name: "Finance"}},
		Roles:          []string{"Reports Reader"},
		Policy:         portal.SnapshotPolicy{Enabled: true, MinLifetimeMinutes: 60, MaxLifetimeMinutes: 480, DefaultLifetimeMinutes: 60},
	}
	with := func(change func(s *approval.Snapshot)) approval.Snapshot {
		s := base
		s.Groups = append([]portal.SnapshotGroup(nil), base.Groups...)
		s.Roles = append([]string(nil), base.Roles...)
		change(&s)
		return s
	}
	withPass := func(id string) approval.Snapshot {
		return with(func(s *approval.Snapshot) { s.LivePass, s.PassID = true, id })
	}
	for _, tc := range []struct {
		name          string
		before, after approval.Snapshot
		want          []string
	}{
		{"nothing changed", base, base, nil},
		{"the same groups, in another order and case", base,
			with(func(s *approval.Snapshot) {
				s.Groups = []portal.SnapshotGroup{{ID: "0F6A9C1E-2B1D-4C8E-9A43-5D2F1E7B8C90", Name: "Finance"}, {ID: sales, Name: "Sales"}}
			}), nil},
		{"a role granted", base,
			with(func(s *approval.Snapshot) { s.Roles = append(s.Roles, "Helpdesk Administrator") }),
			[]string{"The user now holds Helpdesk Administrator."}},
		{"a role removed, two granted", base,
			with(func(s *approval.Snapshot) { s.Roles = []string{"Helpdesk Administrator", "Password Administrator"} }),
			[]string{"The user now holds Helpdesk Administrator and Password Administrator.", "The user no longer holds Reports Reader."}},
		{"the account disabled, and refused for it", base,
			with(func(s *approval.Snapshot) {
				s.AccountEnabled, s.Eligible = false, false
				s.Refusals = []string{"The account is disabled: enable it first, through the usual process."}
			}),
			[]string{
				"The user can no longer get a pass.",
				"Now refused: The account is disabled: enable it first, through the usual process.",
				"The account is now disabled.",
			}},
		{"enabled again",
			with(func(s *approval.Snapshot) {
				s.AccountEnabled, s.Eligible = false, false
				s.Refusals = []string{"The account is disabled: enable it first, through the usual process."}
			}), base,
			[]string{
				"The user can now get a pass.",
				"No longer refused: The account is disabled: enable it first, through the usual process.",
				"The account is now enabled.",
			}},
		{"renamed", base,
			with(func(s *approval.Snapshot) { s.DisplayName = "Alexandra Kim" }),
			[]string{"The user's name changed from Alex Kim to Alexandra Kim."}},
		{"joined and left groups", base,
			with(func(s *approval.Snapshot) {
				s.Groups = []portal.SnapshotGroup{{ID: finance, Name: "Finance"}, {ID: payroll}}
			}),
			[]string{"The user joined " + payroll + ".", "The user left Sales."}},
		{"a pass issued since", base, withPass("tap-2"),
			[]string{"The user now has a pass, which the new one would replace."}},
		{"the pass ended since", withPass("tap-1"), base,
			[]string{"The user no longer has a pass that works or is yet to start."}},
		{"the pass replaced since", withPass("tap-1"), withPass("tap-2"),
			[]string{"The user's pass changed."}},
		{"the same pass", withPass("tap-1"), withPass("TAP-1"), nil},
		{"the policy disabled", base,
			with(func(s *approval.Snapshot) { s.Policy.Enabled = false }),
			[]string{"The tenant's Temporary Access Pass policy is now disabled."}},
		{"the policy's bounds moved", base,
			with(func(s *approval.Snapshot) {
				s.Policy.MinLifetimeMinutes, s.Policy.MaxLifetimeMinutes, s.Policy.DefaultLifetimeMinutes = 30, 240, 120
				s.Policy.OneTimeForced = true
			}),
			[]string{
				"The policy's shortest lifetime changed from 1 hour to 30 minutes.",
				"The policy's longest lifetime changed from 8 hours to 4 hours.",
				"The policy's default lifetime changed from 1 hour to 2 hours.",
				"The policy now requires one-time passes.",
			}},
		{"one-time no longer forced",
			with(func(s *approval.Snapshot) { s.Policy.OneTimeForced = true }), base,
			[]string{"The policy no longer requires one-time passes."}},
		{"a refusal replaced by another, still refused",
			with(func(s *approval.Snapshot) { s.Eligible, s.Refusals = false, []string{"A."} }),
			with(func(s *approval.Snapshot) { s.Eligible, s.Refusals = false, []string{"B."} }),
			[]string{"Now refused: B.", "No longer refused: A."}},
	} {
		got := approval.Diff(tc.before, tc.after)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: Diff() (-want +got):\n%s", tc.name, diff)
		}
	}
}
