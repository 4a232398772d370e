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

	"github.com/go-json-experiment/json/jsontext"
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
	info, err := c.sdk.Users().ByUserId(idOrUPN).ToGetRequestInformation(ctx, userRequest())
	if err != nil {
		return portal.User{}, translate(opUser, err)
	}
	u, err := c.getJSON(ctx, info, opUser)
	if err != nil {
		return portal.User{}, err
	}
	return u.userOf(opUser)
}

// userRequest selects the user's fields the portal shows and decides on.
func userRequest() *users.UserItemRequestBuilderGetRequestConfiguration {
	return &users.UserItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: userFields},
	}
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

// Methods implements portal.Directory.
func (c *Client) Methods(ctx context.Context, userID string) ([]portal.Method, error) {
	if err := checkID(userID); err != nil {
		return nil, err
	}
	// The methods are for the reader only: a short budget and no retries,
	// so that a failing read costs its card, not the page.
	ctx, cancel := context.WithTimeout(ctx, min(c.timeout, InfoTimeout))
	defer cancel()
	info, err := c.sdk.Users().ByUserId(userID).Authentication().Methods().ToGetRequestInformation(ctx,
		&users.ItemAuthenticationMethodsRequestBuilderGetRequestConfiguration{Options: []abstractions.RequestOption{noRetry()}})
	if err != nil {
		return nil, translate(opMethods, err)
	}
	page, err := c.getJSON(ctx, info, opMethods)
	if err != nil {
		return nil, err
	}
	items, err := page.listed(opMethods)
	if err != nil {
		return nil, err
	}
	var out []portal.Method
	for _, m := range items {
		out = append(out, m.method())
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
	info, err := c.sdk.Users().ByUserId(userID).Authentication().TemporaryAccessPassMethods().ToGetRequestInformation(ctx, nil)
	if err != nil {
		return nil, translate(opTAPRead, err)
	}
	page, err := c.getJSON(ctx, info, opTAPRead)
	if err != nil {
		return nil, err
	}
	return newestTAPOf(page, opTAPRead)
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
	info, err := c.sdk.Users().ByUserId(userID).Authentication().TemporaryAccessPassMethods().ToPostRequestInformation(ctx, body,
		&users.ItemAuthenticationTemporaryAccessPassMethodsRequestBuilderPostRequestConfiguration{Options: []abstractions.RequestOption{inspect}})
	if err != nil {
		return portal.IssuedTAP{}, translate(opTAPCreate, err)
	}
	raw, err := c.adapter.SendPrimitive(ctx, info, "[]byte", batchErrors)
	if err != nil {
		return portal.IssuedTAP{}, translateWrite(opTAPCreate, err)
	}
	data, _ := raw.([]byte)
	return issuedOf(data, firstHeader(inspect, "request-id"))
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

// issuedOf reads a create's reply: Graph acted, so a reply that cannot be
// read leaves the outcome to be settled like any other the portal could
// not read. A name given twice is read as encoding/json reads it (the
// last wins) rather than refused: the pass exists, and refusing its reply
// would lose the passcode over a quirk.
func issuedOf(body []byte, requestID string) (portal.IssuedTAP, error) {
	var m wireObject
	if err := decodeWire(body, &m, jsontext.AllowDuplicateNames(true)); err != nil {
		return portal.IssuedTAP{}, &portal.Error{Code: portal.EInternal, Unsure: true, RequestID: requestID, Err: err,
			Message: "Microsoft Graph created the pass but sent a reply the portal cannot read."}
	}
	return issued(m, requestID)
}

// issued is the pass Graph created, with its passcode: one without a
// passcode cannot be shown, and is settled like an outcome not known.
func issued(m wireObject, requestID string) (portal.IssuedTAP, error) {
	if m.TemporaryAccessPass == "" {
		return portal.IssuedTAP{}, &portal.Error{Code: portal.EInternal, Unsure: true, RequestID: requestID,
			Message: "Microsoft Graph created the pass but sent no passcode."}
	}
	return portal.IssuedTAP{TAP: m.tap(), Passcode: portal.NewSecret(m.TemporaryAccessPass), RequestID: requestID}, nil
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
