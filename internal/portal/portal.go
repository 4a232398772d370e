// Package portal holds the types every layer of the TAP portal speaks: the
// directory's users, sign-in methods and passes, the tenant policy, the
// history's events, the interfaces the layers implement, and the error
// codes. It imports no web framework, Graph SDK or database driver.
package portal

import (
	"context"
	"time"
)

// Directory is the portal's view of Microsoft Graph. Implementations
// return *Error values with codes ENotFound, EForbidden, EInvalid, EPolicy,
// EThrottled and EUnavailable, each keeping Graph's request id.
type Directory interface {
	// SearchUsers finds users by any word of their name, user principal
	// name or mail, by employee id and by object id, with each one's pass.
	// cursor is "" for the first page, else the Next of the previous page.
	SearchUsers(ctx context.Context, query string, cursor string) (UserPage, error)
	// User returns one user by object id or user principal name.
	User(ctx context.Context, idOrUPN string) (User, error)
	// Methods lists the user's registered sign-in methods.
	Methods(ctx context.Context, userID string) ([]Method, error)
	// CurrentTAP returns the user's Temporary Access Pass, or nil.
	CurrentTAP(ctx context.Context, userID string) (*TAP, error)
	// CreateTAP issues a Temporary Access Pass, replacing any existing one.
	CreateTAP(ctx context.Context, userID string, req NewTAP) (IssuedTAP, error)
	// DeleteTAP revokes the pass tapID and returns Graph's request id.
	DeleteTAP(ctx context.Context, userID, tapID string) (requestID string, err error)
	// Policy returns the tenant's Temporary Access Pass policy.
	Policy(ctx context.Context) (Policy, error)
	// MemberOf returns those of groupIDs the user is a transitive member of.
	MemberOf(ctx context.Context, userID string, groupIDs []string) ([]string, error)
	// Groups lists every group the user is in, directly or through other
	// groups.
	Groups(ctx context.Context, userID string) ([]Group, error)
	// RoleGrants lists the directory roles the user holds directly, active
	// and PIM-eligible, at any scope. userID must be an object id.
	RoleGrants(ctx context.Context, userID string) ([]RoleGrant, error)
	// GroupRoleGrants lists the directory roles each group holds, active
	// and eligible, naming the groups.
	GroupRoleGrants(ctx context.Context, groupIDs []string) ([]RoleGrant, error)
	// GroupEligibilities lists the groups the user may join or own through
	// PIM for Groups. userID must be an object id.
	GroupEligibilities(ctx context.Context, userID string) ([]GroupGrant, error)
	// Staff returns who holds the portal's own app roles.
	Staff(ctx context.Context) (Staff, error)
	// Subject reads in one round what a decision about one user rests on:
	// the user, their pass, their groups, the roles they hold directly and
	// their PIM for Groups eligibilities; with methods set, their sign-in
	// methods too. userID must be an object id.
	Subject(ctx context.Context, userID string, methods bool) (Subject, error)
	// PassAudits reads one page of the directory audit log's pass
	// creations and deletions at or after since: next is "" for the first
	// page, else the Next of the previous one.
	PassAudits(ctx context.Context, since time.Time, next string) (AuditPage, error)
}

// Subject is what Directory.Subject reads about one user.
type Subject struct {
	User User
	// TAP is the user's pass, or nil.
	TAP    *TAP
	Groups []Group
	// Grants are the directory roles the user holds directly, active and
	// eligible, named.
	Grants []RoleGrant
	// GroupGrants are the groups the user may join or own through PIM.
	GroupGrants []GroupGrant
	// Methods are the sign-in methods, when asked for; MethodsErr says why
	// they could not be read. They only inform: the rest stands without
	// them.
	Methods    []Method
	MethodsErr error
}

// User is a directory user as the portal shows it.
type User struct {
	ID                string
	DisplayName       string
	UserPrincipalName string
	Mail              string
	JobTitle          string
	Department        string
	OfficeLocation    string
	EmployeeID        string
	AccountEnabled    bool
	Guest             bool
	// Synced is true for users synchronised from on-premises AD.
	Synced bool
}

// UserPage is one page of search results.
type UserPage struct {
	Users []UserMatch
	// Count is how many users match in all, as Graph counted them.
	Count int
	// Next is the cursor of the following page, or "" on the last one.
	Next string
	// Prefix is set when Graph refused a word search and the page
	// matches only the start of names, as a fallback.
	Prefix bool
}

// UserMatch is a user found by a search, with their pass.
type UserMatch struct {
	User
	// TAP is the user's newest pass, or nil when they have none.
	TAP *TAP
	// TAPUnknown is set when the pass could not be read; TAP is nil.
	TAPUnknown bool
	// TAPState is where TAP stands; the directory leaves it empty and the
	// service that asked sets it from its clock.
	TAPState TAPState
}

// MethodKind names a kind of sign-in method.
type MethodKind string

// The kinds of sign-in method Graph reports.
const (
	MethodPassword            MethodKind = "password"
	MethodPhone               MethodKind = "phone"
	MethodEmail               MethodKind = "email"
	MethodFIDO2               MethodKind = "fido2"
	MethodAuthenticator       MethodKind = "microsoftAuthenticator"
	MethodWindowsHello        MethodKind = "windowsHelloForBusiness"
	MethodSoftwareOATH        MethodKind = "softwareOath"
	MethodPlatformCredential  MethodKind = "platformCredential"
	MethodTemporaryAccessPass MethodKind = "temporaryAccessPass"
	MethodUnknown             MethodKind = "unknown"
)

// Method is one registered sign-in method.
type Method struct {
	ID   string
	Kind MethodKind
	// Detail says which one it is: a phone number, a device name.
	Detail  string
	Created time.Time // zero when Graph does not say
}

// Label returns the method kind in words.
func (k MethodKind) Label() string {
	switch k {
	case MethodPassword:
		return "Password"
	case MethodPhone:
		return "Phone"
	case MethodEmail:
		return "Email"
	case MethodFIDO2:
		return "FIDO2 security key"
	case MethodAuthenticator:
		return "Microsoft Authenticator"
	case MethodWindowsHello:
		return "Windows Hello for Business"
	case MethodSoftwareOATH:
		return "Software OATH token"
	case MethodPlatformCredential:
		return "Platform credential"
	case MethodTemporaryAccessPass:
		return "Temporary Access Pass"
	}
	return "Other method"
}
