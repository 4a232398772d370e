package graph

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	khttp "github.com/microsoft/kiota-http-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/tapportal/portal/internal/portal"
)

// InfoTimeout bounds a read that only informs (the sign-in methods).
const InfoTimeout = 5 * time.Second

// noRetry is a request option that turns the SDK's retries off.
func noRetry() *khttp.RetryHandlerOptions {
	return &khttp.RetryHandlerOptions{ShouldRetry: func(time.Duration, int, *http.Request, *http.Response) bool { return false }}
}

var userFields = []string{
	"id", "displayName", "userPrincipalName", "mail", "jobTitle", "department",
	"officeLocation", "employeeId", "accountEnabled", "userType", "onPremisesSyncEnabled",
}

func (c *Client) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

// User implements portal.Directory.
func (c *Client) User(ctx context.Context, idOrUPN string) (portal.User, error) {
	if err := checkID(idOrUPN); err != nil {
		return portal.User{}, err
	}
	ctx, cancel := c.call(ctx)
	defer cancel()
	u, err := c.sdk.Users().ByUserId(idOrUPN).Get(ctx, userRequest())
	if err != nil {
		return portal.User{}, translate(opUser, err)
	}
	return toUser(u), nil
}

// checkID refuses ids that cannot name a user, before they reach a URL.
func checkID(id string) error {
	switch {
	case strings.TrimSpace(id) == "":
		return &portal.Error{Code: portal.EInvalid, Message: "No user was given."}
	case len(id) > 256 || !utf8.ValidString(id) || strings.IndexFunc(id, unicode.IsControl) >= 0:
		return &portal.Error{Code: portal.EInvalid, Message: "The user id is malformed."}
	}
	return nil
}

func toUser(u models.Userable) portal.User {
	return portal.User{
		ID:                deref(u.GetId()),
		DisplayName:       deref(u.GetDisplayName()),
		UserPrincipalName: deref(u.GetUserPrincipalName()),
		Mail:              deref(u.GetMail()),
		JobTitle:          deref(u.GetJobTitle()),
		Department:        deref(u.GetDepartment()),
		OfficeLocation:    deref(u.GetOfficeLocation()),
		EmployeeID:        deref(u.GetEmployeeId()),
		AccountEnabled:    deref(u.GetAccountEnabled()),
		Guest:             strings.EqualFold(deref(u.GetUserType()), "Guest"),
		Synced:            deref(u.GetOnPremisesSyncEnabled()),
	}
}

// Methods implements portal.Directory.
func (c *Client) Methods(ctx context.Context, userID string) ([]portal.Method, error) {
	if err := checkID(userID); err != nil {
		return nil, err
	}
	// The methods are for the reader only: a short budget and no retries,
	// so that a failing read costs its card, not the page.
	ctx, cancel := context.WithTimeout(ctx, min(c.timeout, InfoTimeout))
	defer cancel()
	resp, err := c.sdk.Users().ByUserId(userID).Authentication().Methods().Get(ctx,
		&users.ItemAuthenticationMethodsRequestBuilderGetRequestConfiguration{Options: []abstractions.RequestOption{noRetry()}})
	if err != nil {
		return nil, translate(opMethods, err)
	}
	var out []portal.Method
	for _, m := range resp.GetValue() {
		out = append(out, toMethod(m))
	}
	return out, nil
}

// LastSignIn returns when the user last signed in successfully, zero if
// never, from their signInActivity (AuditLog.Read.All, and a tenant with
// Entra ID P1). Graph does not say with which method.
func (c *Client) LastSignIn(ctx context.Context, userID string) (time.Time, error) {
	if err := checkID(userID); err != nil {
		return time.Time{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, min(c.timeout, InfoTimeout))
	defer cancel()
	u, err := c.sdk.Users().ByUserId(userID).Get(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: []string{"id", "signInActivity"}},
		Options:         []abstractions.RequestOption{noRetry()},
	})
	if err != nil {
		return time.Time{}, translate(opSignIns, err)
	}
	if a := u.GetSignInActivity(); a != nil {
		return deref(a.GetLastSuccessfulSignInDateTime()), nil
	}
	return time.Time{}, nil
}

func toMethod(m models.AuthenticationMethodable) portal.Method {
	out := portal.Method{ID: deref(m.GetId()), Kind: portal.MethodUnknown}
	// Concrete types: several method interfaces have identical method
	// sets, so an interface switch would confuse them.
	switch v := m.(type) {
	case *models.PasswordAuthenticationMethod:
		out.Kind = portal.MethodPassword
		out.Created = deref(v.GetCreatedDateTime())
	case *models.PhoneAuthenticationMethod:
		out.Kind = portal.MethodPhone
		out.Detail = deref(v.GetPhoneNumber())
		if t := v.GetPhoneType(); t != nil {
			out.Detail += " (" + t.String() + ")"
		}
	case *models.EmailAuthenticationMethod:
		out.Kind = portal.MethodEmail
		out.Detail = deref(v.GetEmailAddress())
	case *models.Fido2AuthenticationMethod:
		out.Kind = portal.MethodFIDO2
		out.Detail = joinNonEmpty(deref(v.GetDisplayName()), deref(v.GetModel()))
		out.Created = deref(v.GetCreatedDateTime())
	case *models.MicrosoftAuthenticatorAuthenticationMethod:
		out.Kind = portal.MethodAuthenticator
		out.Detail = deref(v.GetDisplayName())
		out.Created = deref(v.GetCreatedDateTime())
	case *models.WindowsHelloForBusinessAuthenticationMethod:
		out.Kind = portal.MethodWindowsHello
		out.Detail = deref(v.GetDisplayName())
		out.Created = deref(v.GetCreatedDateTime())
	case *models.SoftwareOathAuthenticationMethod:
		out.Kind = portal.MethodSoftwareOATH
	case *models.PlatformCredentialAuthenticationMethod:
		out.Kind = portal.MethodPlatformCredential
		out.Detail = deref(v.GetDisplayName())
		out.Created = deref(v.GetCreatedDateTime())
	case *models.TemporaryAccessPassAuthenticationMethod:
		out.Kind = portal.MethodTemporaryAccessPass
		out.Created = deref(v.GetCreatedDateTime())
	}
	return out
}

// joinNonEmpty joins the distinct non-empty parts: a security key's name
// is often its model too.
func joinNonEmpty(parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p != "" && !slices.Contains(kept, p) {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, ", ")
}

// CurrentTAP implements portal.Directory.
func (c *Client) CurrentTAP(ctx context.Context, userID string) (*portal.TAP, error) {
	if err := checkID(userID); err != nil {
		return nil, err
	}
	ctx, cancel := c.call(ctx)
	defer cancel()
	resp, err := c.sdk.Users().ByUserId(userID).Authentication().TemporaryAccessPassMethods().Get(ctx, nil)
	if err != nil {
		return nil, translate(opTAPRead, err)
	}
	return newestTAP(resp.GetValue()), nil
}

// newestTAP returns the newest of a user's passes, or nil: a user has one
// pass, but a replaced one may still be listed for a moment.
func newestTAP(ms []models.TemporaryAccessPassAuthenticationMethodable) *portal.TAP {
	var newest *portal.TAP
	for _, m := range ms {
		t := toTAP(m)
		if newest == nil || t.Created.After(newest.Created) {
			newest = &t
		}
	}
	return newest
}

func toTAP(m models.TemporaryAccessPassAuthenticationMethodable) portal.TAP {
	return portal.TAP{
		ID:              deref(m.GetId()),
		Created:         deref(m.GetCreatedDateTime()),
		Start:           deref(m.GetStartDateTime()),
		LifetimeMinutes: int(deref(m.GetLifetimeInMinutes())),
		OneTime:         deref(m.GetIsUsableOnce()),
		Usable:          deref(m.GetIsUsable()),
		Reason:          deref(m.GetMethodUsabilityReason()),
	}
}

// CreateTAP implements portal.Directory.
func (c *Client) CreateTAP(ctx context.Context, userID string, req portal.NewTAP) (portal.IssuedTAP, error) {
	body, err := newTAPBody(userID, req)
	if err != nil {
		return portal.IssuedTAP{}, err
	}
	ctx, cancel := c.call(ctx)
	defer cancel()
	inspect := responseHeaders()
	resp, err := c.sdk.Users().ByUserId(userID).Authentication().TemporaryAccessPassMethods().Post(ctx, body,
		&users.ItemAuthenticationTemporaryAccessPassMethodsRequestBuilderPostRequestConfiguration{Options: []abstractions.RequestOption{inspect}})
	if err != nil {
		return portal.IssuedTAP{}, translateWrite(opTAPCreate, err)
	}
	return issuedOf(resp, firstHeader(inspect, "request-id"))
}

// newTAPBody checks a create for userID and builds its body.
func newTAPBody(userID string, req portal.NewTAP) (*models.TemporaryAccessPassAuthenticationMethod, error) {
	if err := checkID(userID); err != nil {
		return nil, err
	}
	if req.LifetimeMinutes != 0 && (req.LifetimeMinutes < 10 || req.LifetimeMinutes > 43200) {
		return nil, &portal.Error{Code: portal.EInvalid, Field: "lifetime",
			Message: fmt.Sprintf("A lifetime of %d minutes is impossible: Microsoft Entra allows 10 minutes to 30 days.", req.LifetimeMinutes)}
	}
	body := models.NewTemporaryAccessPassAuthenticationMethod()
	if !req.Start.IsZero() {
		start := req.Start.UTC()
		body.SetStartDateTime(&start)
	}
	if req.LifetimeMinutes != 0 {
		lifetime := int32(req.LifetimeMinutes)
		body.SetLifetimeInMinutes(&lifetime)
	}
	oneTime := req.OneTime
	body.SetIsUsableOnce(&oneTime)
	return body, nil
}

// issuedOf reads a create's reply.
func issuedOf(resp models.TemporaryAccessPassAuthenticationMethodable, requestID string) (portal.IssuedTAP, error) {
	code := deref(resp.GetTemporaryAccessPass())
	if code == "" {
		// Graph acted, but what it sent cannot be shown: the outcome is
		// settled like any other the portal could not read.
		return portal.IssuedTAP{}, &portal.Error{Code: portal.EInternal, Unsure: true, RequestID: requestID,
			Message: "Microsoft Graph created the pass but sent no passcode."}
	}
	return portal.IssuedTAP{TAP: toTAP(resp), Passcode: portal.NewSecret(code), RequestID: requestID}, nil
}

// responseHeaders asks the SDK to keep a reply's headers: a successful
// write's request-id goes into the history.
func responseHeaders() *khttp.HeadersInspectionOptions {
	o := khttp.NewHeadersInspectionOptions()
	o.InspectResponseHeaders = true
	return o
}

func firstHeader(o *khttp.HeadersInspectionOptions, name string) string {
	if v := o.GetResponseHeaders().Get(name); len(v) > 0 {
		return v[0]
	}
	return ""
}

// DeleteTAP implements portal.Directory.
func (c *Client) DeleteTAP(ctx context.Context, userID, tapID string) (string, error) {
	if err := checkID(userID); err != nil {
		return "", err
	}
	if err := checkID(tapID); err != nil {
		return "", err
	}
	ctx, cancel := c.call(ctx)
	defer cancel()
	inspect := responseHeaders()
	err := c.sdk.Users().ByUserId(userID).Authentication().TemporaryAccessPassMethods().ByTemporaryAccessPassAuthenticationMethodId(tapID).
		Delete(ctx, &users.ItemAuthenticationTemporaryAccessPassMethodsTemporaryAccessPassAuthenticationMethodItemRequestBuilderDeleteRequestConfiguration{
			Options: []abstractions.RequestOption{inspect}})
	if err != nil {
		return "", translateWrite(opTAPDelete, err)
	}
	return firstHeader(inspect, "request-id"), nil
}

// Policy implements portal.Directory. The policy changes rarely and every
// user page needs it, so it is cached for the configured time.
func (c *Client) Policy(ctx context.Context) (portal.Policy, error) {
	c.policyMu.Lock()
	defer c.policyMu.Unlock()
	if !c.policyFetched.IsZero() && c.now().Sub(c.policyFetched) < c.policyTTL {
		return c.policy, nil
	}
	ctx, cancel := c.call(ctx)
	defer cancel()
	resp, err := c.sdk.Policies().AuthenticationMethodsPolicy().AuthenticationMethodConfigurations().
		ByAuthenticationMethodConfigurationId("TemporaryAccessPass").Get(ctx, nil)
	if err != nil {
		return portal.Policy{}, translate(opPolicy, err)
	}
	tap, ok := resp.(models.TemporaryAccessPassAuthenticationMethodConfigurationable)
	if !ok {
		return portal.Policy{}, &portal.Error{Code: portal.EInternal, Message: "Microsoft Graph sent a policy that is not a Temporary Access Pass configuration."}
	}
	p := portal.Policy{
		Enabled:                tap.GetState() != nil && *tap.GetState() == models.ENABLED_AUTHENTICATIONMETHODSTATE,
		DefaultLifetimeMinutes: int(deref(tap.GetDefaultLifetimeInMinutes())),
		MinLifetimeMinutes:     int(deref(tap.GetMinimumLifetimeInMinutes())),
		MaxLifetimeMinutes:     int(deref(tap.GetMaximumLifetimeInMinutes())),
		DefaultLength:          int(deref(tap.GetDefaultLength())),
		OneTimeForced:          deref(tap.GetIsUsableOnce()),
	}
	for _, t := range tap.GetIncludeTargets() {
		p.Include = append(p.Include, portal.PolicyTarget{ID: deref(t.GetId())})
	}
	for _, t := range tap.GetExcludeTargets() {
		p.Exclude = append(p.Exclude, portal.PolicyTarget{ID: deref(t.GetId())})
	}
	if err := checkPolicy(p); err != nil {
		return portal.Policy{}, err
	}
	c.policy, c.policyFetched = p, c.now()
	return p, nil
}

// checkPolicy refuses a policy whose numbers make no sense rather than
// offering operators lifetimes Graph would refuse.
func checkPolicy(p portal.Policy) error {
	if p.MinLifetimeMinutes < 10 || p.MaxLifetimeMinutes > 43200 || p.MinLifetimeMinutes > p.MaxLifetimeMinutes ||
		p.DefaultLifetimeMinutes < p.MinLifetimeMinutes || p.DefaultLifetimeMinutes > p.MaxLifetimeMinutes {
		return &portal.Error{Code: portal.EInternal, Message: fmt.Sprintf(
			"Microsoft Graph sent an inconsistent Temporary Access Pass policy (minimum %d, default %d, maximum %d minutes).",
			p.MinLifetimeMinutes, p.DefaultLifetimeMinutes, p.MaxLifetimeMinutes)}
	}
	return nil
}

// maxPages bounds how many pages one listing follows, so a reply that
// links back to itself cannot loop forever.
const maxPages = 50

// sameOrigin refuses a next link that leaves the Graph root: it would
// carry the bearer token elsewhere.
func (c *Client) sameOrigin(link string) error {
	if !strings.HasPrefix(link, c.v1+"/") {
		return &portal.Error{Code: portal.EInternal, Message: "Microsoft Graph sent a next-page link to another host."}
	}
	return nil
}

// MemberOf implements portal.Directory.
func (c *Client) MemberOf(ctx context.Context, userID string, groupIDs []string) ([]string, error) {
	if err := checkID(userID); err != nil {
		return nil, err
	}
	if len(groupIDs) == 0 {
		return nil, nil
	}
	ctx, cancel := c.call(ctx)
	defer cancel()
	var out []string
	// checkMemberGroups takes at most 20 ids a call.
	for start := 0; start < len(groupIDs); start += 20 {
		chunk := groupIDs[start:min(start+20, len(groupIDs))]
		body := users.NewItemCheckMemberGroupsPostRequestBody()
		body.SetGroupIds(chunk)
		resp, err := c.sdk.Users().ByUserId(userID).CheckMemberGroups().PostAsCheckMemberGroupsPostResponse(ctx, body, nil)
		if err != nil {
			return nil, translate(opGroups, err)
		}
		out = append(out, resp.GetValue()...)
	}
	return out, nil
}
