//go:build !nodemo

package app

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/tapportal/portal/internal/config"
	"github.com/tapportal/portal/internal/devoidc"
	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/session"
)

// DemoClientID is the sign-in client the demo's provider registers: the
// app whose service principal the emulated tenant holds, with the
// personas' app roles.
const DemoClientID = graphemu.DemoSignInAppID

// DemoAuditDelay is how long the demo's audit log takes to list a change.
const DemoAuditDelay = 15 * time.Second

// Demo is the demo tenant: the Graph emulator with its seed and the
// embedded OpenID provider with its personas.
type Demo struct {
	Graph    *graphemu.Server
	Provider *devoidc.Provider
}

// StartDemo starts the demo tenant and points cfg at it. The Graph app's
// certificate is written under dataDir; settings the environment gave
// are kept unless the demo must own them.
func StartDemo(cfg *config.Config, dataDir string, logger *slog.Logger) (*Demo, error) {
	emu, err := graphemu.New(graphemu.Options{Seed: true, Logger: logger.With("component", "graph-emulator")})
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, cert, err := graphemu.GenerateAppCertificate("TAP Portal demo")
	if err != nil {
		emu.Close()
		return nil, err
	}
	// Entra lists a change in its audit log minutes after it; the demo's
	// log takes seconds, enough to see a pass wait for its entry.
	emu.Update(func(t *graphemu.Tenant) { t.AuditDelay = DemoAuditDelay })
	emu.RegisterApp(graphemu.App{ClientID: graphemu.DemoGraphClientID, DisplayName: "TAP Portal (demo)", Certificate: cert, Permissions: graphemu.AllPermissions})
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		emu.Close()
		return nil, err
	}
	certFile := filepath.Join(dataDir, "demo-graph-app.pem")
	if err := os.WriteFile(certFile, append(certPEM, keyPEM...), 0o600); err != nil {
		emu.Close()
		return nil, err
	}

	secret := session.RandomToken()
	op, err := devoidc.Start(devoidc.Options{
		Clients: []devoidc.Client{{
			ID: DemoClientID, Secret: secret,
			RedirectURIs:           []string{cfg.PublicURL.String() + "/auth/callback"},
			PostLogoutRedirectURIs: []string{cfg.PublicURL.String() + "/signed-out"},
		}},
		TenantID: emu.TenantID(),
		Logger:   logger.With("component", "openid-provider"),
	})
	if err != nil {
		emu.Close()
		return nil, fmt.Errorf("demo OpenID provider: %w", err)
	}

	// Two demo users on whom Graph misbehaves, for trying what the portal
	// does when it cannot know whether a write happened.
	for id, f := range map[string]graphemu.Fault{
		graphemu.ActsThenFailsUserID: {Status: 503, After: true},
		graphemu.FailsUnsureUserID:   {Status: 503},
	} {
		f.Method, f.Path = "POST", "/v1.0/users/"+id+"/authentication/temporaryAccessPassMethods"
		emu.Inject(f)
	}
	cfg.OIDCIssuer, cfg.OIDCClientID, cfg.OIDCClientSecret = op.Issuer(), DemoClientID, secret
	cfg.GraphTenantID, cfg.GraphClientID = emu.TenantID(), graphemu.DemoGraphClientID
	cfg.GraphCertFile, cfg.GraphCertPassword = certFile, ""
	cfg.GraphBaseURL, cfg.GraphAuthorityURL, cfg.GraphCloud = emu.URL(), emu.URL(), "public"
	if len(cfg.ProtectedGroupIDs) == 0 {
		// The demo shows a protected-group refusal out of the box.
		cfg.ProtectedGroupIDs = []string{graphemu.ExecutiveGroupID}
	}
	if len(cfg.SessionKeys) == 0 {
		// A fresh key each run: demo sessions end when the demo stops.
		cfg.SessionKeys = []string{session.RandomToken()}
	}
	if len(cfg.AuditKeys) == 0 {
		// The demo's history outlives a run, and so must its key.
		key, err := DemoAuditKey(dataDir, true)
		if err != nil {
			op.Close()
			emu.Close()
			return nil, err
		}
		cfg.AuditKeys = []string{key}
	}
	return &Demo{Graph: emu, Provider: op}, nil
}

// Close stops the demo tenant.
func (d *Demo) Close() {
	d.Provider.Close()
	d.Graph.Close()
}
