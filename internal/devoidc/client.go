package devoidc

import (
	"net/url"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// client is a registered Client as the op package sees it: a confidential
// web application using the authorization code flow and nothing else.
type client struct {
	id                     string
	secret                 string
	redirectURIs           []string
	postLogoutRedirectURIs []string
	loginURL               string
}

var _ op.Client = (*client)(nil)

func newClient(c Client, loginURL string) *client {
	return &client{
		id:                     c.ID,
		secret:                 c.Secret,
		redirectURIs:           slices.Clone(c.RedirectURIs),
		postLogoutRedirectURIs: slices.Clone(c.PostLogoutRedirectURIs),
		loginURL:               loginURL,
	}
}

func (c *client) GetID() string                    { return c.id }
func (c *client) RedirectURIs() []string           { return c.redirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return c.postLogoutRedirectURIs }

// ApplicationType is web: the op package then allows an http redirect URI
// for the code flow, which the demo on localhost needs, without DevMode's
// looser checks.
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }

// AuthMethod is client_secret_basic; the op package accepts the secret in
// the form as well when Config.AuthMethodPost is set.
func (c *client) AuthMethod() oidc.AuthMethod { return oidc.AuthMethodBasic }
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType        { return []oidc.GrantType{oidc.GrantTypeCode} }
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration      { return tokenLifetime }
func (c *client) DevMode() bool                       { return false }
func (c *client) ClockSkew() time.Duration            { return 0 }
func (c *client) IsScopeAllowed(scope string) bool    { return false }
func (c *client) LoginURL(authRequestID string) string {
	return c.loginURL + "?" + url.Values{"authRequestID": {authRequestID}}.Encode()
}

func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return keepScopes
}

func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return keepScopes
}

// IDTokenUserinfoClaimsAssertion is true because Entra puts name,
// preferred_username and email in the ID token itself, and the portal reads
// them from there rather than from the userinfo endpoint.
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }

func keepScopes(scopes []string) []string { return scopes }
