package graph

import (
	"context"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/tapportal/portal/internal/portal"
)

// Capabilities probes, with one read each, the permissions the portal's
// checks need, so that a platform admin learns at start-up (and from
// /readyz) which checks would refuse every request. The probes only read:
// creating and deleting passes cannot be probed without acting, so they
// show at the first issue, which is refused and recorded. Graph's access
// tokens are opaque to the portal (the documentation says not to read
// them), so the probes ask Graph itself.
func (c *Client) Capabilities(ctx context.Context) []portal.Capability {
	ctx, cancel := c.call(ctx)
	defer cancel()
	sample, sampleErr := c.sampleUser(ctx)
	probe := func(check, permission, effect string, needsUser bool, read func(id string) error) portal.Capability {
		cp := portal.Capability{Check: check, Permission: permission, Effect: effect, Status: portal.CapabilityOK}
		if needsUser && (sampleErr != nil || sample == "") {
			cp.Status, cp.Detail = portal.CapabilityUnchecked, "No user could be read to probe with."
			return cp
		}
		switch err := read(sample); {
		case err == nil:
		case portal.ErrorCode(err) == portal.EForbidden:
			cp.Status, cp.Detail = portal.CapabilityMissing, portal.ErrorMessage(err)
		case portal.ErrorCode(err) == portal.EConfig:
			cp.Status, cp.Detail = portal.CapabilityMisconfigured, portal.ErrorMessage(err)
		default:
			cp.Status, cp.Detail = portal.CapabilityUnchecked, portal.ErrorMessage(err)
		}
		return cp
	}
	every := "every issue is refused (check_failed)"
	caps := []portal.Capability{
		probe("user lookup", "User.Read.All", "search, user pages and every action fail", false, func(string) error { return sampleErr }),
		probe("passes", "UserAuthMethod-TAP.ReadWrite.All", "user pages, issues and revocations fail", true, func(id string) error {
			_, err := c.CurrentTAP(ctx, id)
			return err
		}),
		probe("sign-in methods", "UserAuthenticationMethod.Read.All", "the user page cannot list sign-in methods", true, func(id string) error {
			_, err := c.Methods(ctx, id)
			return err
		}),
		probe("tenant policy", "Policy.Read.All", every, false, func(string) error { _, err := c.Policy(ctx); return err }),
		probe("group memberships", "GroupMember.Read.All", every, true, func(id string) error { _, err := c.Groups(ctx, id); return err }),
		probe("privileged roles", "RoleManagement.Read.Directory", every, true, func(id string) error {
			_, err := c.RoleGrants(ctx, id)
			if err == nil {
				_, err = c.roleDefinitions(ctx, nil)
			}
			return err
		}),
		probe("PIM for Groups", "PrivilegedEligibilitySchedule.Read.AzureADGroup", every, true, func(id string) error {
			_, err := c.GroupEligibilities(ctx, id)
			return err
		}),
	}
	caps = append(caps, probe("directory audit log", "AuditLog.Read.All", "passes made outside the portal go unseen, and the portal's own are not checked against the log", false, func(string) error {
		_, err := c.PassAudits(ctx, c.now().Add(-time.Minute), "")
		return err
	}), probe("sign-in activity", "AuditLog.Read.All", "the follow-up of a reusable pass cannot say whether the user signed in while it worked", true, func(id string) error {
		_, err := c.LastSignIn(ctx, id)
		return err
	}))
	if c.staffAppID != "" {
		caps = append(caps, probe("portal staff", "Application.Read.All", "every issue and revocation is refused", false, func(string) error {
			_, err := c.Staff(ctx)
			return err
		}))
	}
	return caps
}

// sampleUser returns the id of one user of the tenant, to probe with; ""
// for an empty tenant.
func (c *Client) sampleUser(ctx context.Context) (string, error) {
	top := int32(1)
	resp, err := c.sdk.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Select: []string{"id"}, Top: &top}})
	if err != nil {
		return "", translate(opUsers, err)
	}
	if v := resp.GetValue(); len(v) > 0 {
		return deref(v[0].GetId()), nil
	}
	return "", nil
}
