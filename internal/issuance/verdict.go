package issuance

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tapportal/portal/internal/portal"
)

// Refusal is one reason a user may not get a pass.
type Refusal struct {
	// Code is stable, for the history and the metrics.
	Code    string
	Message string
}

// Refusal codes.
const (
	RefuseSelf            = "self"
	RefuseGuest           = "guest"
	RefuseDisabled        = "disabled"
	RefuseRole            = "privileged_role"
	RefuseProtectedGroup  = "protected_group"
	RefuseNotEligible     = "not_in_eligible_group"
	RefusePolicyDisabled  = "policy_disabled"
	RefuseNotTargeted     = "policy_not_targeted"
	RefuseLifetime        = "lifetime_out_of_policy"
	RefuseOneTime         = "one_time_required"
	RefuseCheckFailed     = "check_failed"
	RefuseGraph           = "graph_refused"
	RefuseRateLimited     = "rate_limited"
	RefuseStaleSignIn     = "stale_sign_in"
	RefusePortalStaff     = "portal_staff"
	RefuseOperatorRole    = "operator_role_removed"
	RefuseOperatorChanged = "operator_changed"
	RefuseChannel         = "channel_unavailable"
	RefuseSelfApproval    = "self_approval"
)

// RefusalCodes lists every refusal code, for tests and bounded metric
// labels.
func RefusalCodes() []string {
	return []string{RefuseSelf, RefuseGuest, RefuseDisabled, RefuseRole, RefuseProtectedGroup, RefuseNotEligible,
		RefusePolicyDisabled, RefuseNotTargeted, RefuseLifetime, RefuseOneTime, RefuseCheckFailed, RefuseGraph,
		RefuseRateLimited, RefuseStaleSignIn, RefusePortalStaff, RefuseOperatorRole, RefuseOperatorChanged, RefuseChannel, RefuseSelfApproval}
}

// RefusalLabel names a refusal code for people.
func RefusalLabel(code string) string {
	switch code {
	case RefuseSelf:
		return "Own account"
	case RefuseGuest:
		return "Guest"
	case RefuseDisabled:
		return "Disabled account"
	case RefuseRole:
		return "Directory role"
	case RefuseProtectedGroup:
		return "Protected group"
	case RefuseNotEligible:
		return "Not in an eligible group"
	case RefusePolicyDisabled:
		return "Policy disabled"
	case RefuseNotTargeted:
		return "Not targeted by policy"
	case RefuseLifetime:
		return "Lifetime out of policy"
	case RefuseOneTime:
		return "One-time required"
	case RefuseCheckFailed:
		return "Checks incomplete"
	case RefuseGraph:
		return "Refused by Graph"
	case RefuseRateLimited:
		return "Rate limit"
	case RefusePortalStaff:
		return "Portal staff"
	case RefuseOperatorRole:
		return "Operator role removed"
	case RefuseOperatorChanged:
		return "Another person signed in"
	case RefuseStaleSignIn:
		return "Sign-in too old"
	case RefuseChannel:
		return "Channel unavailable"
	case RefuseSelfApproval:
		return "Own request"
	}
	return code
}

// RefusalHelp says what an operator can do next after a refusal of each
// kind; a platform admin replaces any of them (PORTAL_REFUSAL_HELP_FILE)
// with the local escalation path.
func RefusalHelp() map[string]string {
	const escalate = "Escalate to the identity team: passes for these accounts are issued there, by people who can check who is asking."
	return map[string]string{
		RefuseSelf:            "Ask another operator to issue it.",
		RefuseGuest:           "Ask the guest to contact their own organisation's helpdesk.",
		RefuseDisabled:        "Have the account enabled through the usual request first, then issue the pass.",
		RefuseRole:            escalate,
		RefuseProtectedGroup:  escalate,
		RefusePortalStaff:     escalate,
		RefuseNotEligible:     "Ask your supervisor whether the user should be added to an eligible group.",
		RefusePolicyDisabled:  "Ask an Entra administrator to turn on Temporary Access Pass in the authentication methods policy.",
		RefuseNotTargeted:     "Ask an Entra administrator whether the Temporary Access Pass policy should include this user.",
		RefuseLifetime:        "Choose a lifetime the policy allows.",
		RefuseOneTime:         "Issue a one-time pass: the tenant policy requires it.",
		RefuseCheckFailed:     "Try again in a minute. If it keeps failing, tell the platform team: the portal's Graph app may lack a permission.",
		RefuseGraph:           "Try again in a minute; if Graph keeps refusing, tell the platform team with the request id shown.",
		RefuseRateLimited:     "Wait for the limit to reset, or ask a colleague or your supervisor.",
		RefuseStaleSignIn:     "Sign in again when asked: issuing needs a recent sign-in.",
		RefuseOperatorRole:    "Ask your supervisor: your operator role was removed in Entra ID.",
		RefuseOperatorChanged: "Fill in the form again as yourself.",
		RefuseChannel:         "Choose another way to hand over the pass, or have the user's manager and their mail address set in the directory.",
		RefuseSelfApproval:    "Ask another supervisor to approve or reject the request.",
	}
}

// Verdict says whether a user may get a pass, and why not.
type Verdict struct {
	Refusals []Refusal
}

// Eligible reports whether nothing refuses.
func (v Verdict) Eligible() bool { return len(v.Refusals) == 0 }

// Message joins the reasons, for a page or a record.
func (v Verdict) Message() string {
	msgs := make([]string, len(v.Refusals))
	for i, r := range v.Refusals {
		msgs[i] = r.Message
	}
	return strings.Join(msgs, " ")
}

// verdict applies the guardrails and the tenant policy to the facts. The
// rules about the request itself (lifetime, one-time) are in Validate.
func (s *Service) verdict(op portal.Operator, f facts) Verdict {
	var v Verdict
	refuse := func(code, format string, args ...any) {
		v.Refusals = append(v.Refusals, Refusal{Code: code, Message: fmt.Sprintf(format, args...)})
	}
	u := f.user
	if strings.EqualFold(u.ID, op.ID) {
		refuse(RefuseSelf, "This is your own account: an operator cannot issue a pass to themselves.")
	}
	if u.Guest {
		refuse(RefuseGuest, "Guests cannot get a pass: their sign-in belongs to their home organisation.")
	}
	if !u.AccountEnabled {
		refuse(RefuseDisabled, "The account is disabled: enable it first, through the usual process.")
	}
	var roles, staff []string
	for _, p := range privileges(f) {
		switch {
		case !s.rails.protects(p):
		case p.Staff:
			staff = append(staff, p.Text)
		default:
			roles = append(roles, p.Text)
		}
	}
	if len(roles) > 0 {
		refuse(RefuseRole, "The user is privileged in the directory: %s. Passes for administrators are not issued here.", strings.Join(roles, "; "))
	}
	if len(staff) > 0 {
		refuse(RefusePortalStaff, "The user %s: the portal's own operators and supervisors do not get passes from it.", strings.Join(staff, " and "))
	}
	named := func(ids []string) []string {
		var names []string
		for _, id := range ids {
			if g, ok := f.group(id); ok {
				names = append(names, nameOr(g.DisplayName, g.ID))
			}
		}
		return names
	}
	if names := named(s.rails.ProtectedGroupIDs); len(names) > 0 {
		refuse(RefuseProtectedGroup, "The user is in the protected group %s.", strings.Join(names, ", "))
	}
	if len(s.rails.EligibleGroupIDs) > 0 && len(named(s.rails.EligibleGroupIDs)) == 0 {
		refuse(RefuseNotEligible, "The user is not in any group eligible for a pass (%s).", strings.Join(s.rails.EligibleGroupIDs, ", "))
	}
	p := f.policy
	if !p.Enabled {
		refuse(RefusePolicyDisabled, "The tenant's Temporary Access Pass policy is disabled.")
	} else {
		included := slices.ContainsFunc(p.Include, func(t portal.PolicyTarget) bool { return t.ID == portal.AllUsers || f.in(t.ID) })
		excluded := slices.ContainsFunc(p.Exclude, func(t portal.PolicyTarget) bool { return t.ID == portal.AllUsers || f.in(t.ID) })
		switch {
		case excluded:
			refuse(RefuseNotTargeted, "The tenant's Temporary Access Pass policy excludes a group the user is in.")
		case !included:
			refuse(RefuseNotTargeted, "The tenant's Temporary Access Pass policy does not include the user.")
		}
	}
	return v
}
