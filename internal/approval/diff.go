package approval

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/tapportal/portal/internal/portal"
)

// Snapshot is what a request was decided on. It is the domain's type, so
// that a request keeps it as it is.
type Snapshot = portal.ApprovalSnapshot

// Diff says, in sentences for the approver's page, what changed between
// the snapshot taken when the request was made (before) and the one read
// when it is approved (after): the verdict, the account, its roles and
// groups, its pass, and the tenant policy, in that order. None means
// nothing the approver should know of changed. Group ids are compared
// without regard to case, as the directory does.
func Diff(before, after Snapshot) []string {
	var out []string
	say := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }

	switch {
	case before.Eligible && !after.Eligible:
		say("The user can no longer get a pass.")
	case !before.Eligible && after.Eligible:
		say("The user can now get a pass.")
	}
	for _, m := range missing(after.Refusals, before.Refusals) {
		say("Now refused: %s", m)
	}
	for _, m := range missing(before.Refusals, after.Refusals) {
		say("No longer refused: %s", m)
	}

	switch {
	case before.AccountEnabled && !after.AccountEnabled:
		say("The account is now disabled.")
	case !before.AccountEnabled && after.AccountEnabled:
		say("The account is now enabled.")
	}
	if before.DisplayName != after.DisplayName {
		say("The user's name changed from %s to %s.", cmp.Or(before.DisplayName, "nothing"), cmp.Or(after.DisplayName, "nothing"))
	}

	if roles := missing(after.Roles, before.Roles); len(roles) > 0 {
		say("The user now holds %s.", join(roles))
	}
	if roles := missing(before.Roles, after.Roles); len(roles) > 0 {
		say("The user no longer holds %s.", join(roles))
	}

	if joined := missingGroups(after.Groups, before.Groups); len(joined) > 0 {
		say("The user joined %s.", join(joined))
	}
	if left := missingGroups(before.Groups, after.Groups); len(left) > 0 {
		say("The user left %s.", join(left))
	}

	switch {
	case !before.LivePass && after.LivePass:
		say("The user now has a pass, which the new one would replace.")
	case before.LivePass && !after.LivePass:
		say("The user no longer has a pass that works or is yet to start.")
	case before.LivePass && after.LivePass && !strings.EqualFold(before.PassID, after.PassID):
		say("The user's pass changed.")
	}

	bp, ap := before.Policy, after.Policy
	switch {
	case bp.Enabled && !ap.Enabled:
		say("The tenant's Temporary Access Pass policy is now disabled.")
	case !bp.Enabled && ap.Enabled:
		say("The tenant's Temporary Access Pass policy is now enabled.")
	}
	for _, b := range []struct {
		name          string
		before, after int
	}{
		{"shortest", bp.MinLifetimeMinutes, ap.MinLifetimeMinutes},
		{"longest", bp.MaxLifetimeMinutes, ap.MaxLifetimeMinutes},
		{"default", bp.DefaultLifetimeMinutes, ap.DefaultLifetimeMinutes},
	} {
		if b.before != b.after {
			say("The policy's %s lifetime changed from %s to %s.", b.name, portal.FormatMinutes(b.before), portal.FormatMinutes(b.after))
		}
	}
	switch {
	case !bp.OneTimeForced && ap.OneTimeForced:
		say("The policy now requires one-time passes.")
	case bp.OneTimeForced && !ap.OneTimeForced:
		say("The policy no longer requires one-time passes.")
	}
	return out
}

// missing returns the items of a that b lacks, in a's order.
func missing(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// missingGroups names the groups of a that b lacks, in a's order.
func missingGroups(a, b []portal.SnapshotGroup) []string {
	var out []string
	for _, g := range a {
		if !slices.ContainsFunc(b, func(h portal.SnapshotGroup) bool { return strings.EqualFold(g.ID, h.ID) }) {
			out = append(out, cmp.Or(g.Name, g.ID))
		}
	}
	return out
}
