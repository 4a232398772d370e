//go:build !nodemo

package app

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tapportal/portal/internal/config"
	"github.com/tapportal/portal/internal/devoidc"
	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/session"
	"github.com/tapportal/portal/web/templates"
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
	// webhook receives the portal's security events, unless
	// PORTAL_WEBHOOK_URL points elsewhere.
	webhook *demoReceiver
}

// DemoContact is whom the demo tenant's notices say to call.
const DemoContact = "the Northwind service desk on +1 206 555 0100"

// DemoApprovalLifetimeOver is how long a demo pass may last before it
// needs a supervisor's approval, in minutes.
const DemoApprovalLifetimeOver = 240

// DemoApprovalBulkRowsOver is how many eligible rows a demo cohort run
// may have before it needs a supervisor's approval: the sample has seven.
const DemoApprovalBulkRowsOver = 5

// DemoSecurityAddress is where the demo tenant's security notices go: the
// security team's mail-enabled group.
const DemoSecurityAddress = graphemu.SecurityTeamAddress

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
	// The demo's app may send mail as the portal's own mailbox only, as an
	// application access policy should keep it (see the README): with
	// PORTAL_MAIL_FROM set to another mailbox, Exchange refuses.
	emu.RegisterApp(graphemu.App{ClientID: graphemu.DemoGraphClientID, DisplayName: "TAP Portal (demo)", Certificate: cert,
		Permissions: graphemu.AllPermissions, MailboxScope: []string{graphemu.PortalMailboxUserID}})
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
	d := &Demo{Graph: emu, Provider: op}
	// Mail goes out as the tenant's shared mailbox, to the emulator's
	// outbox, and the security events to a receiver here: the demo's
	// mailbox page shows both.
	if cfg.MailFrom == "" {
		cfg.MailFrom = graphemu.PortalMailboxAddress
	}
	if len(cfg.NoticeSecurity) == 0 {
		cfg.NoticeSecurity = []string{DemoSecurityAddress}
	}
	if cfg.NoticeContact == "" {
		cfg.NoticeContact = DemoContact
	}
	// A second pair of eyes for the finance team, who can move money, for
	// passes longer than half a working day, and for cohorts of more than
	// a handful: each unless the environment says otherwise.
	if !cfg.IsSet("PORTAL_APPROVAL_GROUP_IDS") {
		cfg.Approval.GroupIDs = []string{graphemu.FinanceGroupID}
	}
	if !cfg.IsSet("PORTAL_APPROVAL_LIFETIME_OVER") {
		cfg.Approval.LifetimeOverMinutes = DemoApprovalLifetimeOver
	}
	if !cfg.IsSet("PORTAL_APPROVAL_BULK_ROWS_OVER") {
		cfg.Approval.BulkRowsOver = DemoApprovalBulkRowsOver
	}
	if cfg.WebhookURL == "" {
		if d.webhook, err = startDemoReceiver(); err != nil {
			op.Close()
			emu.Close()
			return nil, err
		}
		cfg.WebhookURL, cfg.WebhookSecrets = d.webhook.url, []string{d.webhook.Secret()}
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
			d.Close()
			return nil, err
		}
		cfg.AuditKeys = []string{key}
	}
	return d, nil
}

// Close stops the demo tenant.
func (d *Demo) Close() {
	if d.webhook != nil {
		d.webhook.Close()
	}
	d.Provider.Close()
	d.Graph.Close()
}

// Mails implements handlers.DemoMailbox: the emulator's outbox, newest
// first.
func (d *Demo) Mails() []templates.DemoMail {
	var out []templates.DemoMail
	for _, m := range d.Graph.Outbox() {
		var to []string
		for _, r := range append(append(m.To, m.Cc...), m.Bcc...) {
			to = append(to, r.Address)
		}
		var lost []string
		for _, r := range m.Undelivered {
			lost = append(lost, r.Address)
		}
		out = append(out, templates.DemoMail{Sent: m.Sent, From: m.SenderAddress, To: strings.Join(to, ", "), Subject: m.Subject, Body: m.Content,
			Undelivered: strings.Join(lost, ", ")})
	}
	slices.Reverse(out)
	return out
}

// Events implements handlers.DemoMailbox: the security events the demo's
// receiver got, newest first; none when the webhook points elsewhere.
func (d *Demo) Events() []templates.DemoEvent {
	if d.webhook == nil {
		return nil
	}
	return d.webhook.Events()
}
