package graph

import (
	"fmt"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/tapportal/portal/internal/portal"
)

// The Graph objects the portal reads on every page (users, sign-in
// methods, passes, groups and role grants) are decoded straight into the
// few properties it uses (see decodeWire). The SDK's models keep every
// property of every type in a backing store, built from a parse tree of
// the whole reply; on a user page that decoding was a fifth of the
// portal's CPU. The SDK still builds each request, sends it through its
// pipeline (token, retries, telemetry) and turns a failed reply into its
// error type; only a successful body is read here.
//
// One struct holds the properties of all these kinds, so that a $batch
// reply, whose items are of different kinds, decodes in one pass. No two
// kinds use one property name with different JSON types; a property added
// here must keep it so. A missing or null property decodes to its zero
// value, as the SDK's getters read through deref.

// decodeWire decodes a Graph reply into the wire types, with opts. It uses
// the proposed encoding/json/v2 (this module is its reference
// implementation, with the same API): it reads a user page's batch reply
// in a third of the time encoding/json takes, and it is stricter where
// Graph is exact: names must match in case and a name given twice is an
// error, so a reply that is not what Graph sends is refused rather than
// half read. Text is another matter: a directory name holding invalid
// UTF-8 or half a surrogate pair (users and group owners set names) reads
// with U+FFFD in its place, as encoding/json reads it, rather than
// failing every page that shows it.
func decodeWire(data []byte, v any, opts ...jsonv2.Options) error {
	return jsonv2.Unmarshal(data, v, append(opts, jsontext.AllowInvalidUTF8(true))...)
}

// wireObject is any of the objects above.
type wireObject struct {
	Type        string `json:"@odata.type"`
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`

	// A user, with the properties of userFields.
	UserPrincipalName     string `json:"userPrincipalName"`
	Mail                  string `json:"mail"`
	JobTitle              string `json:"jobTitle"`
	Department            string `json:"department"`
	OfficeLocation        string `json:"officeLocation"`
	EmployeeID            string `json:"employeeId"`
	AccountEnabled        bool   `json:"accountEnabled"`
	UserType              string `json:"userType"`
	OnPremisesSyncEnabled bool   `json:"onPremisesSyncEnabled"`

	// A group as transitiveMemberOf lists it.
	IsAssignableToRole *bool `json:"isAssignableToRole"`

	// A role assignment or a role eligibility schedule instance: the same
	// three properties say who holds which role where.
	PrincipalID      string `json:"principalId"`
	RoleDefinitionID string `json:"roleDefinitionId"`
	DirectoryScopeID string `json:"directoryScopeId"`

	// A PIM for Groups eligibility schedule instance.
	GroupID  string `json:"groupId"`
	AccessID string `json:"accessId"`

	// A sign-in method of any kind, told apart by its @odata.type.
	CreatedDateTime time.Time `json:"createdDateTime"`
	PhoneNumber     string    `json:"phoneNumber"`
	PhoneType       string    `json:"phoneType"`
	EmailAddress    string    `json:"emailAddress"`
	Model           string    `json:"model"`

	// A Temporary Access Pass; the passcode only in a create's reply.
	TemporaryAccessPass   string    `json:"temporaryAccessPass"`
	StartDateTime         time.Time `json:"startDateTime"`
	LifetimeInMinutes     int       `json:"lifetimeInMinutes"`
	IsUsableOnce          bool      `json:"isUsableOnce"`
	IsUsable              bool      `json:"isUsable"`
	MethodUsabilityReason string    `json:"methodUsabilityReason"`
}

// wireBody is a reply's body: one object, or one page of a listing.
// Value is nil when the reply has no "value" (or a null one).
type wireBody struct {
	wireObject
	Value    *[]wireObject `json:"value"`
	NextLink string        `json:"@odata.nextLink"`
	Count    *int          `json:"@odata.count"`
}

// listed is a listing page's entries. A reply without "value" is not a
// listing: read as an empty one, a list of groups or roles would pass a
// guardrail whose check never ran.
func (b *wireBody) listed(o op) ([]wireObject, error) {
	if b.Value == nil {
		return nil, &portal.Error{Code: portal.EInternal,
			Message: fmt.Sprintf("Microsoft Graph sent a reply without the list the portal asked for while trying to %s.", o.what)}
	}
	return *b.Value, nil
}

// object is the reply's object, which must have an id: an object without
// one (a null or empty reply) is not what the portal asked for.
func (b *wireBody) object(o op) (wireObject, error) {
	if b.ID == "" {
		return wireObject{}, &portal.Error{Code: portal.EInternal,
			Message: fmt.Sprintf("Microsoft Graph sent a reply without the object's id while trying to %s.", o.what)}
	}
	return b.wireObject, nil
}

func (u wireObject) user() portal.User {
	return portal.User{
		ID:                u.ID,
		DisplayName:       u.DisplayName,
		UserPrincipalName: u.UserPrincipalName,
		Mail:              u.Mail,
		JobTitle:          u.JobTitle,
		Department:        u.Department,
		OfficeLocation:    u.OfficeLocation,
		EmployeeID:        u.EmployeeID,
		AccountEnabled:    u.AccountEnabled,
		Guest:             strings.EqualFold(u.UserType, "Guest"),
		Synced:            u.OnPremisesSyncEnabled,
	}
}

func groupList(items []wireObject) []portal.Group {
	out := make([]portal.Group, 0, len(items))
	for _, g := range items {
		// A group Graph returns with limited information (no permission
		// to read its properties) has no isAssignableToRole: it may hold a
		// role, so it is checked like one that can.
		out = append(out, portal.Group{ID: g.ID, DisplayName: g.DisplayName,
			RoleAssignable: g.IsAssignableToRole == nil || *g.IsAssignableToRole})
	}
	return out
}

func activeGrants(items []wireObject) []portal.RoleGrant   { return roleGrants(items, false) }
func eligibleGrants(items []wireObject) []portal.RoleGrant { return roleGrants(items, true) }

func roleGrants(items []wireObject, eligible bool) []portal.RoleGrant {
	out := make([]portal.RoleGrant, 0, len(items))
	for _, g := range items {
		out = append(out, portal.RoleGrant{PrincipalID: g.PrincipalID, RoleID: g.RoleDefinitionID,
			ScopeID: scopeOr(g.DirectoryScopeID), Eligible: eligible})
	}
	return out
}

// scopeOr reads a missing directory scope as the tenant, the stricter
// reading: it names the widest scope, which every guardrail protects.
func scopeOr(s string) string {
	if s == "" {
		return portal.TenantScope
	}
	return s
}

func groupGrants(items []wireObject) []portal.GroupGrant {
	out := make([]portal.GroupGrant, 0, len(items))
	for _, e := range items {
		// The enumeration's values; anything else (or none) reads as
		// membership, as the SDK's enumeration parser leaves it unset.
		access := "member"
		switch e.AccessID {
		case "owner", "member", "unknownFutureValue":
			access = e.AccessID
		}
		out = append(out, portal.GroupGrant{GroupID: e.GroupID, Access: access})
	}
	return out
}

// tapType is a pass's @odata.type.
const tapType = "#microsoft.graph.temporaryAccessPassAuthenticationMethod"

func (m wireObject) method() portal.Method {
	out := portal.Method{ID: m.ID, Kind: portal.MethodUnknown}
	switch m.Type {
	case "#microsoft.graph.passwordAuthenticationMethod":
		out.Kind = portal.MethodPassword
		out.Created = m.CreatedDateTime
	case "#microsoft.graph.phoneAuthenticationMethod":
		out.Kind = portal.MethodPhone
		out.Detail = m.PhoneNumber
		switch m.PhoneType {
		case "mobile", "alternateMobile", "office", "unknownFutureValue":
			out.Detail += " (" + m.PhoneType + ")"
		}
	case "#microsoft.graph.emailAuthenticationMethod":
		out.Kind = portal.MethodEmail
		out.Detail = m.EmailAddress
	case "#microsoft.graph.fido2AuthenticationMethod":
		out.Kind = portal.MethodFIDO2
		out.Detail = joinNonEmpty(m.DisplayName, m.Model)
		out.Created = m.CreatedDateTime
	case "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod":
		out.Kind = portal.MethodAuthenticator
		out.Detail = m.DisplayName
		out.Created = m.CreatedDateTime
	case "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod":
		out.Kind = portal.MethodWindowsHello
		out.Detail = m.DisplayName
		out.Created = m.CreatedDateTime
	case "#microsoft.graph.softwareOathAuthenticationMethod":
		out.Kind = portal.MethodSoftwareOATH
	case "#microsoft.graph.platformCredentialAuthenticationMethod":
		out.Kind = portal.MethodPlatformCredential
		out.Detail = m.DisplayName
		out.Created = m.CreatedDateTime
	case tapType:
		out.Kind = portal.MethodTemporaryAccessPass
		out.Created = m.CreatedDateTime
	}
	return out
}

func (m wireObject) tap() portal.TAP {
	return portal.TAP{
		ID:              m.ID,
		Created:         m.CreatedDateTime,
		Start:           m.StartDateTime,
		LifetimeMinutes: m.LifetimeInMinutes,
		OneTime:         m.IsUsableOnce,
		Usable:          m.IsUsable,
		Reason:          m.MethodUsabilityReason,
	}
}

// userOf is the reply's user.
func (b *wireBody) userOf(o op) (portal.User, error) {
	u, err := b.object(o)
	return u.user(), err
}

// newestTAPOf is the newest pass of a listing of a user's passes.
func newestTAPOf(b *wireBody, o op) (*portal.TAP, error) {
	items, err := b.listed(o)
	if err != nil {
		return nil, err
	}
	return newestTAP(items), nil
}

// newestTAP returns the newest of a user's passes, or nil: a user has one
// pass, but a replaced one may still be listed for a moment.
func newestTAP(ms []wireObject) *portal.TAP {
	var newest *portal.TAP
	for _, m := range ms {
		t := m.tap()
		if newest == nil || t.Created.After(newest.Created) {
			newest = &t
		}
	}
	return newest
}
