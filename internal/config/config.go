// Package config reads the portal's settings from environment variables.
// Every variable is listed once, in Vars, which feeds the parser, the
// command's help and the README's table; a bad value stops start-up with a
// message that names the variable and what it expects.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tapportal/portal/internal/approval"
	"github.com/tapportal/portal/internal/portal"
)

// Var describes one environment variable.
type Var struct {
	Name    string
	Default string
	// Required is true when the variable must be set outside `portal dev`.
	Required bool
	Help     string
}

// Vars lists every setting, in the order the help shows them.
var Vars = []Var{
	{Name: "PORTAL_ADDR", Default: ":8080", Help: "Listen address."},
	{Name: "PORTAL_PUBLIC_URL", Default: "http://localhost:8080", Help: "External base URL; the OpenID redirect URI is this plus /auth/callback. https turns on Secure cookies and HSTS. In portal dev, unset means http on PORTAL_ADDR's host and port."},
	{Name: "PORTAL_DATABASE_URL", Default: "sqlite:data/portal.db", Help: "History store: sqlite:PATH or postgres://..."},
	{Name: "PORTAL_SESSION_KEYS", Required: true, Help: "Comma-separated secrets (at least 32 characters each), newest first; older ones still open existing sessions, for rotation."},
	{Name: "PORTAL_AUDIT_KEY", Required: true, Help: "Comma-separated secrets (at least 32 characters each) that key the history's hash chain and sign its checkpoints, newest first; keep a retired key listed while records it keyed remain. Keep it out of the database: whoever holds it can rewrite the history."},
	{Name: "PORTAL_AUDIT_CHECKPOINT_INTERVAL", Default: "5m", Help: "How often a signed checkpoint of the history's head is written to the log and the database (one replica at a time)."},
	{Name: "PORTAL_DIRECTORY_AUDIT_INTERVAL", Default: "5m", Help: "How often one replica reads the directory audit log for passes created and deleted (needs AuditLog.Read.All), matches them to the history and checks the accounts passes made elsewhere went to; off turns it off. In portal dev, unset means 20s."},
	{Name: "PORTAL_DIRECTORY_AUDIT_DELAY", Default: "30m", Help: "How late the directory audit log may list a change: each read goes this far back, and a pass the portal issued or revoked that the log does not show after this long is flagged. In portal dev, unset means 2m."},
	{Name: "PORTAL_DIRECTORY_AUDIT_LOOKBACK", Default: "168h", Help: "How far back the first read of the directory audit log goes (the log keeps 7 days without a premium licence, 30 with one), and how old a pass may be to be followed up."},
	{Name: "PORTAL_SESSION_IDLE_TIMEOUT", Default: "30m", Help: "A session ends after this long without a request."},
	{Name: "PORTAL_SESSION_MAX_AGE", Default: "8h", Help: "A session ends this long after sign-in, however active."},
	{Name: "PORTAL_OIDC_ISSUER", Required: true, Help: "OpenID provider issuer URL, e.g. https://login.microsoftonline.com/{tenant}/v2.0."},
	{Name: "PORTAL_OIDC_CLIENT_ID", Required: true, Help: "Client id of the sign-in app registration."},
	{Name: "PORTAL_OIDC_CLIENT_SECRET", Required: true, Help: "Client secret of the sign-in app registration."},
	{Name: "PORTAL_OIDC_ROLES_CLAIM", Default: "roles", Help: "ID token claim that holds the app roles."},
	{Name: "PORTAL_ROLE_OPERATOR", Default: "TAP.Operator", Help: "Role value that grants operator access."},
	{Name: "PORTAL_ROLE_SUPERVISOR", Default: "TAP.Supervisor", Help: "Role value that grants supervisor access (includes operator rights)."},
	{Name: "PORTAL_GRAPH_TENANT_ID", Required: true, Help: "Tenant id of the Graph app."},
	{Name: "PORTAL_GRAPH_CLIENT_ID", Required: true, Help: "Client id of the Graph app (application permissions)."},
	{Name: "PORTAL_GRAPH_CERT_FILE", Required: true, Help: "The Graph app's certificate: PEM (certificate and private key) or PFX."},
	{Name: "PORTAL_GRAPH_CERT_PASSWORD", Help: "Password of an encrypted PFX."},
	{Name: "PORTAL_GRAPH_CLOUD", Default: "public", Help: "National cloud: public, usgov, usgovdod or china."},
	{Name: "PORTAL_GRAPH_BASE_URL", Help: "Override the cloud's Graph root (https, without /v1.0)."},
	{Name: "PORTAL_GRAPH_AUTHORITY_URL", Help: "Override the cloud's Entra authority (https)."},
	{Name: "PORTAL_GRAPH_TIMEOUT", Default: "30s", Help: "Upper bound of one Graph operation, retries included."},
	{Name: "PORTAL_GRAPH_POLICY_TTL", Default: "1m", Help: "How long the tenant's TAP policy is cached."},
	{Name: "PORTAL_GRAPH_SETTLE_WINDOW", Default: "45s", Help: "After a write Graph did not confirm, how long the settler waits for Graph's replicas to show a change before it records that none happened."},
	{Name: "PORTAL_EXTRA_CA_FILE", Help: "PEM file of extra trusted roots for outbound TLS (proxies, test tenants)."},
	{Name: "PORTAL_PROTECTED_ROLE_IDS", Default: "all", Help: "Directory roles whose holders never get a pass, active or PIM-eligible, at any scope, directly or through a group: all, or a comma-separated list of role template ids (custom roles stay protected unless in PORTAL_ALLOWED_CUSTOM_ROLE_IDS)."},
	{Name: "PORTAL_ALLOWED_CUSTOM_ROLE_IDS", Help: "Comma-separated custom role definition ids whose holders may get a pass when PORTAL_PROTECTED_ROLE_IDS is a list."},
	{Name: "PORTAL_PROTECT_PORTAL_STAFF", Default: "true", Help: "Refuse a pass to anyone who holds one of the portal's own app roles (operators and supervisors), directly or through a group."},
	{Name: "PORTAL_STAFF_APP_ID", Help: "App id of the sign-in app whose app-role holders are the portal's staff (default: PORTAL_OIDC_CLIENT_ID); none turns off the staff guardrail and the live check of the operator's own role, for providers other than Entra ID."},
	{Name: "PORTAL_STAFF_CACHE_TTL", Default: "1m", Help: "How long the portal's app-role holders are cached: an operator whose role is removed in Entra ID cannot act once it passes (at most 1m)."},
	{Name: "PORTAL_PROTECTED_GROUP_IDS", Help: "Comma-separated group ids whose members never get a pass."},
	{Name: "PORTAL_ELIGIBLE_GROUP_IDS", Help: "Comma-separated group ids; when set, only their members can get a pass."},
	{Name: "PORTAL_RATE_LIMIT", Default: "20/1h", Help: "Passes one operator may issue per window, as COUNT/WINDOW (e.g. 20/1h), counted across replicas."},
	{Name: "PORTAL_BULK_RATE_LIMIT", Default: "500/24h", Help: "Rows of bulk runs one operator may issue per window, as COUNT/WINDOW, counted across replicas apart from PORTAL_RATE_LIMIT (which bulk rows do not use up)."},
	{Name: "PORTAL_BULK_MAX_ROWS", Default: "1000", Help: "Most rows a cohort file may hold (at most 10000); 0 turns bulk runs off."},
	{Name: "PORTAL_BULK_MAX_BYTES", Default: "1048576", Help: "Largest cohort file accepted, in bytes (1024 to 16777216)."},
	{Name: "PORTAL_MAX_AUTH_AGE", Default: "15m", Help: "Issuing needs a sign-in younger than this; an older one is sent back to the provider (prompt=login)."},
	{Name: "PORTAL_HISTORY_RETENTION_DAYS", Default: "0", Help: "Delete history records older than this many days (daily, recorded in the history); 0 keeps everything."},
	{Name: "PORTAL_METRICS_ADDR", Help: "Serve Prometheus /metrics on this separate listen address (e.g. :9090) instead of on PORTAL_ADDR."},
	{Name: "PORTAL_METRICS_TOKEN", Help: "When set, /metrics answers only requests with this bearer token (Authorization: Bearer ...), on either listener; at least 32 characters."},
	{Name: "PORTAL_PASS_INSTRUCTIONS", Default: DefaultPassInstructions, Help: "What the passcode page tells the operator to say to the user (plain text, at most 300 characters): where to sign in and what to do next."},
	{Name: "PORTAL_QUICK_REASONS", Default: DefaultQuickReasons, Help: "Reasons the issue form offers with one click, separated by |; at most 8, each at most 120 characters; none turns them off."},
	{Name: "PORTAL_REFUSAL_HELP_FILE", Help: "A file of what to do after each kind of refusal, one per line as KIND: TEXT (# starts a comment); the kinds are the history's refusal codes, and a kind not listed keeps the built-in text."},
	{Name: "PORTAL_CHANNELS", Default: "read", Help: "How a passcode may reach its user, comma-separated, the default first: read (shown once to the operator, who reads it out), manager (mailed to the user's manager; needs PORTAL_MAIL_FROM), link (a one-time link whose key only the link holds, for the operator to send)."},
	{Name: "PORTAL_MAIL_FROM", Help: "The mailbox the portal sends mail as (an address or object id; a shared mailbox in Exchange Online), for passcodes mailed to managers and for notices; needs Mail.Send. Unset, the portal sends no mail."},
	{Name: "PORTAL_LINK_TTL", Default: "24h", Help: "How long a one-time link works (5m to 720h), never past its pass's end."},
	{Name: "PORTAL_NOTICE_USER", Default: "false", Help: "Mail the user, when they have a mailbox, whenever a pass is issued for them, saying whom to call if they did not ask for it (needs PORTAL_MAIL_FROM)."},
	{Name: "PORTAL_NOTICE_SECURITY", Help: "Comma-separated addresses mailed whenever a pass is issued (needs PORTAL_MAIL_FROM)."},
	{Name: "PORTAL_NOTICE_CONTACT", Help: "Whom a user who did not ask for a pass should call, in notices and mails (plain text, at most 120 characters), e.g. the service desk on +1 206 555 0100."},
	{Name: "PORTAL_WEBHOOK_URL", Help: "Where security events are posted as JSON, signed as Standard Webhooks sign (https; http only to a loopback host): passes issued, passes made elsewhere for protected accounts, repeated refusals, bulk runs, requests for approval. Unset, none are posted."},
	{Name: "PORTAL_WEBHOOK_SECRET", Help: "Comma-separated signing secrets, newest first, each whsec_ and the base64 of 24 to 64 random bytes (e.g. whsec_$(openssl rand -base64 32)); every one signs each event, so keep the old one listed until receivers have the new one. Required with PORTAL_WEBHOOK_URL."},
	{Name: "PORTAL_WEBHOOK_MAX_ATTEMPTS", Default: "8", Help: "Attempts to post an event (1 to 50) before it is dead: kept for supervisors to see and send again, and logged as an error."},
	{Name: "PORTAL_WEBHOOK_BACKOFF", Default: "30s,2m,10m,1h,6h", Help: "Comma-separated waits after each failed attempt, the last repeating; each is lengthened by up to a fifth at random."},
	{Name: "PORTAL_WEBHOOK_TIMEOUT", Default: "10s", Help: "Upper bound of one attempt to post an event (1s to 60s)."},
	{Name: "PORTAL_REFUSAL_ALERT", Default: "5/15m", Help: "An operator refused this many times in this window raises a security event, as COUNT/WINDOW (needs PORTAL_WEBHOOK_URL); off turns it off."},
	{Name: "PORTAL_APPROVAL_GROUP_IDS", Help: "Comma-separated group ids: a pass for a member waits for a supervisor's approval."},
	{Name: "PORTAL_APPROVAL_LIFETIME_OVER", Default: "off", Help: "A pass longer than this (whole minutes, such as 4h or 90m) waits for a supervisor's approval; off turns the rule off."},
	{Name: "PORTAL_APPROVAL_MULTI_USE", Default: "false", Help: "A pass that is not one-time waits for a supervisor's approval."},
	{Name: "PORTAL_APPROVAL_HOURS", Default: "off", Help: "Working hours as DAYS HH:MM-HH:MM ZONE, such as Mon-Fri 08:00-18:00 Europe/London: a pass asked for outside them waits for a supervisor's approval; off turns the rule off."},
	{Name: "PORTAL_APPROVAL_BULK_ROWS_OVER", Default: "off", Help: "A cohort run with more eligible rows than this waits for a supervisor's approval before it starts (0 to 10000); off turns the rule off."},
	{Name: "PORTAL_APPROVAL_TTL", Default: "8h", Help: "How long a request for approval waits before it expires (5m to 168h)."},
	{Name: "PORTAL_LOG_LEVEL", Default: "info", Help: "debug, info, warn or error."},
}

// Config is the parsed configuration.
type Config struct {
	Addr        string
	PublicURL   *url.URL
	DatabaseURL string

	SessionKeys        []string
	AuditKeys          []string
	CheckpointInterval time.Duration
	// DirectoryAuditInterval is 0 when the audit log is not read.
	DirectoryAuditInterval time.Duration
	DirectoryAuditDelay    time.Duration
	DirectoryAuditLookback time.Duration
	SessionIdleTimeout     time.Duration
	SessionMaxAge          time.Duration

	OIDCIssuer       string
	OIDCClientID     string
	OIDCClientSecret string
	RolesClaim       string
	RoleOperator     string
	RoleSupervisor   string

	GraphTenantID     string
	GraphClientID     string
	GraphCertFile     string
	GraphCertPassword string
	GraphCloud        string
	GraphBaseURL      string
	GraphAuthorityURL string
	GraphTimeout      time.Duration
	GraphPolicyTTL    time.Duration
	GraphSettleWindow time.Duration
	ExtraCAFile       string

	// ProtectedRoleIDs empty means every role protects its holder.
	ProtectedRoleIDs     []string
	AllowedCustomRoleIDs []string
	ProtectStaff         bool
	// StaffAppID is the sign-in app whose app-role holders are staff;
	// empty means PORTAL_OIDC_CLIENT_ID (see StaffApp).
	StaffAppID        string
	StaffDisabled     bool
	StaffCacheTTL     time.Duration
	ProtectedGroupIDs []string
	EligibleGroupIDs  []string

	RateLimitCount  int
	RateLimitWindow time.Duration
	// BulkRateCount rows of bulk runs per BulkRateWindow and operator.
	BulkRateCount  int
	BulkRateWindow time.Duration
	// BulkMaxRows is 0 when bulk runs are off.
	BulkMaxRows   int
	BulkMaxBytes  int
	MaxAuthAge    time.Duration
	RetentionDays int

	MetricsAddr  string
	MetricsToken string

	PassInstructions string
	QuickReasons     []string
	// RefusalHelp holds the texts of PORTAL_REFUSAL_HELP_FILE by refusal
	// code; the codes are checked against the portal's when it starts.
	RefusalHelp map[string]string

	// Channels are how a passcode may reach its user, the default first.
	Channels []string
	// MailFrom is the portal's sending mailbox; empty means no mail.
	MailFrom       string
	LinkTTL        time.Duration
	NoticeUser     bool
	NoticeSecurity []string
	NoticeContact  string
	// WebhookURL is empty when no security events are posted.
	WebhookURL         string
	WebhookSecrets     []string
	WebhookMaxAttempts int
	WebhookBackoff     []time.Duration
	WebhookTimeout     time.Duration
	// Approval are the rules that send a pass to a second pair of eyes;
	// zero when none does.
	Approval    approval.Rules
	ApprovalTTL time.Duration
	// RefusalAlertCount refusals of one operator within
	// RefusalAlertWindow raise an event; 0 when off.
	RefusalAlertCount  int
	RefusalAlertWindow time.Duration

	LogLevel string

	// set names the variables the environment gave, so that the demo
	// fills in only what was left unset.
	set map[string]bool
}

// IsSet reports whether the environment gave the variable name.
func (c Config) IsSet(name string) bool { return c.set[name] }

// The directory audit log's reading in `portal dev`, unless set: the
// demo's log lists a change within seconds, not minutes.
const (
	DevDirectoryAuditInterval = 20 * time.Second
	DevDirectoryAuditDelay    = 2 * time.Minute
)

// DefaultQuickReasons are the issue form's one-click reasons unless
// PORTAL_QUICK_REASONS says otherwise.
const DefaultQuickReasons = "New phone, re-registering Authenticator|Lost or broken security key|New starter, first sign-in|Locked out while travelling"

// DefaultPassInstructions is what the passcode page says to tell the user
// unless PORTAL_PASS_INSTRUCTIONS says otherwise.
const DefaultPassInstructions = "Go to https://aka.ms/mysecurityinfo, sign in with your username, choose Temporary Access Pass when asked, and type it exactly. Then add a new sign-in method straight away."

// maxPassInstructions bounds PORTAL_PASS_INSTRUCTIONS, in characters.
const maxPassInstructions = 300

var guid = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// Load reads the configuration through getenv. With dev set, required
// variables may be missing (the demo tenant fills them in). It reports
// every problem at once, each naming its variable.
func Load(getenv func(string) string, dev bool) (Config, error) {
	p := parser{getenv: getenv, dev: dev}
	c := Config{
		Addr:                   p.str("PORTAL_ADDR"),
		PublicURL:              p.publicURL("PORTAL_PUBLIC_URL"),
		DatabaseURL:            p.database("PORTAL_DATABASE_URL"),
		SessionKeys:            p.secrets("PORTAL_SESSION_KEYS"),
		AuditKeys:              p.secrets("PORTAL_AUDIT_KEY"),
		CheckpointInterval:     p.duration("PORTAL_AUDIT_CHECKPOINT_INTERVAL", 10*time.Second, 24*time.Hour),
		DirectoryAuditInterval: p.durationOrOff("PORTAL_DIRECTORY_AUDIT_INTERVAL", 10*time.Second, 24*time.Hour),
		DirectoryAuditDelay:    p.duration("PORTAL_DIRECTORY_AUDIT_DELAY", time.Minute, 24*time.Hour),
		DirectoryAuditLookback: p.duration("PORTAL_DIRECTORY_AUDIT_LOOKBACK", time.Hour, 30*24*time.Hour),
		SessionIdleTimeout:     p.duration("PORTAL_SESSION_IDLE_TIMEOUT", time.Minute, 24*time.Hour),
		SessionMaxAge:          p.duration("PORTAL_SESSION_MAX_AGE", 5*time.Minute, 7*24*time.Hour),
		OIDCIssuer:             p.httpsURL("PORTAL_OIDC_ISSUER", true),
		OIDCClientID:           p.str("PORTAL_OIDC_CLIENT_ID"),
		OIDCClientSecret:       p.str("PORTAL_OIDC_CLIENT_SECRET"),
		RolesClaim:             p.str("PORTAL_OIDC_ROLES_CLAIM"),
		RoleOperator:           p.str("PORTAL_ROLE_OPERATOR"),
		RoleSupervisor:         p.str("PORTAL_ROLE_SUPERVISOR"),
		GraphTenantID:          p.str("PORTAL_GRAPH_TENANT_ID"),
		GraphClientID:          p.str("PORTAL_GRAPH_CLIENT_ID"),
		GraphCertFile:          p.str("PORTAL_GRAPH_CERT_FILE"),
		GraphCertPassword:      p.str("PORTAL_GRAPH_CERT_PASSWORD"),
		GraphCloud:             p.oneOf("PORTAL_GRAPH_CLOUD", "public", "usgov", "usgovdod", "china"),
		GraphBaseURL:           p.httpsURL("PORTAL_GRAPH_BASE_URL", false),
		GraphAuthorityURL:      p.httpsURL("PORTAL_GRAPH_AUTHORITY_URL", false),
		GraphTimeout:           p.duration("PORTAL_GRAPH_TIMEOUT", time.Second, 5*time.Minute),
		GraphPolicyTTL:         p.duration("PORTAL_GRAPH_POLICY_TTL", time.Second, 24*time.Hour),
		GraphSettleWindow:      p.duration("PORTAL_GRAPH_SETTLE_WINDOW", time.Second, 10*time.Minute),
		ExtraCAFile:            p.str("PORTAL_EXTRA_CA_FILE"),
		ProtectedRoleIDs:       p.roleIDs("PORTAL_PROTECTED_ROLE_IDS"),
		AllowedCustomRoleIDs:   p.guids("PORTAL_ALLOWED_CUSTOM_ROLE_IDS"),
		ProtectStaff:           p.boolean("PORTAL_PROTECT_PORTAL_STAFF"),
		StaffAppID:             p.str("PORTAL_STAFF_APP_ID"),
		StaffCacheTTL:          p.duration("PORTAL_STAFF_CACHE_TTL", time.Second, time.Minute),
		ProtectedGroupIDs:      p.guids("PORTAL_PROTECTED_GROUP_IDS"),
		EligibleGroupIDs:       p.guids("PORTAL_ELIGIBLE_GROUP_IDS"),
		MaxAuthAge:             p.duration("PORTAL_MAX_AUTH_AGE", time.Minute, 24*time.Hour),
		BulkMaxRows:            p.integer("PORTAL_BULK_MAX_ROWS", 0, 10000),
		BulkMaxBytes:           p.integer("PORTAL_BULK_MAX_BYTES", 1024, 16<<20),
		RetentionDays:          p.integer("PORTAL_HISTORY_RETENTION_DAYS", 0, 36500),
		MetricsAddr:            p.str("PORTAL_METRICS_ADDR"),
		MetricsToken:           p.str("PORTAL_METRICS_TOKEN"),
		PassInstructions:       p.text("PORTAL_PASS_INSTRUCTIONS", maxPassInstructions),
		QuickReasons:           p.reasons("PORTAL_QUICK_REASONS"),
		RefusalHelp:            p.helpFile("PORTAL_REFUSAL_HELP_FILE"),
		LogLevel:               p.oneOf("PORTAL_LOG_LEVEL", "debug", "info", "warn", "error"),
		Channels:               p.channels("PORTAL_CHANNELS"),
		MailFrom:               p.mailbox("PORTAL_MAIL_FROM"),
		LinkTTL:                p.duration("PORTAL_LINK_TTL", 5*time.Minute, 720*time.Hour),
		NoticeUser:             p.boolean("PORTAL_NOTICE_USER"),
		NoticeSecurity:         p.addresses("PORTAL_NOTICE_SECURITY"),
		NoticeContact:          p.text("PORTAL_NOTICE_CONTACT", 120),
		WebhookURL:             p.httpsURL("PORTAL_WEBHOOK_URL", true),
		WebhookSecrets:         p.list("PORTAL_WEBHOOK_SECRET"),
		WebhookMaxAttempts:     p.integer("PORTAL_WEBHOOK_MAX_ATTEMPTS", 1, 50),
		WebhookBackoff:         p.durations("PORTAL_WEBHOOK_BACKOFF", time.Second, 7*24*time.Hour),
		WebhookTimeout:         p.duration("PORTAL_WEBHOOK_TIMEOUT", time.Second, time.Minute),
	}
	c.Approval.GroupIDs = parseWith(&p, "PORTAL_APPROVAL_GROUP_IDS", approval.ParseGroupIDs)
	c.Approval.LifetimeOverMinutes = parseWith(&p, "PORTAL_APPROVAL_LIFETIME_OVER", approval.ParseLifetimeOver)
	c.Approval.MultiUse = parseWith(&p, "PORTAL_APPROVAL_MULTI_USE", approval.ParseMultiUse)
	c.Approval.Hours = parseWith(&p, "PORTAL_APPROVAL_HOURS", approval.ParseHours)
	c.Approval.BulkRowsOver = parseWith(&p, "PORTAL_APPROVAL_BULK_ROWS_OVER", approval.ParseBulkRowsOver)
	c.ApprovalTTL = parseWith(&p, "PORTAL_APPROVAL_TTL", approval.ParseTTL)
	if !strings.EqualFold(strings.TrimSpace(p.getenv("PORTAL_REFUSAL_ALERT")), "off") {
		c.RefusalAlertCount, c.RefusalAlertWindow = p.rate("PORTAL_REFUSAL_ALERT")
	}
	if dev && strings.TrimSpace(getenv("PORTAL_CHANNELS")) == "" {
		// The demo offers every channel.
		c.Channels = []string{"read", "manager", "link"}
	}
	if dev && strings.TrimSpace(getenv("PORTAL_NOTICE_USER")) == "" {
		c.NoticeUser = true
	}
	// In the demo the tenant's mailbox sends, unless one is set.
	if c.MailFrom == "" && !dev {
		switch {
		case slices.Contains(c.Channels, "manager"):
			p.fail("PORTAL_CHANNELS", "offers manager, which mails passcodes: set PORTAL_MAIL_FROM to the mailbox the portal sends as")
		case c.NoticeUser:
			p.fail("PORTAL_NOTICE_USER", "is true: set PORTAL_MAIL_FROM to the mailbox the portal sends notices as")
		case len(c.NoticeSecurity) > 0:
			p.fail("PORTAL_NOTICE_SECURITY", "is set: set PORTAL_MAIL_FROM to the mailbox the portal sends notices as")
		}
	}
	if c.WebhookURL != "" && len(c.WebhookSecrets) == 0 {
		p.fail("PORTAL_WEBHOOK_SECRET", "is required with PORTAL_WEBHOOK_URL: receivers check every event's signature with it")
	}
	if c.WebhookURL == "" && len(c.WebhookSecrets) > 0 {
		p.fail("PORTAL_WEBHOOK_SECRET", "is set without PORTAL_WEBHOOK_URL: set the URL too, or remove the secret")
	}
	if dev && strings.TrimSpace(getenv("PORTAL_PUBLIC_URL")) == "" {
		// On one machine the portal is where it listens.
		c.PublicURL = DevPublicURL(c.Addr)
	}
	if dev && strings.TrimSpace(getenv("PORTAL_DIRECTORY_AUDIT_INTERVAL")) == "" {
		// The demo's audit log shows a change within seconds.
		c.DirectoryAuditInterval = DevDirectoryAuditInterval
	}
	if dev && strings.TrimSpace(getenv("PORTAL_DIRECTORY_AUDIT_DELAY")) == "" {
		c.DirectoryAuditDelay = DevDirectoryAuditDelay
	}
	c.RateLimitCount, c.RateLimitWindow = p.rate("PORTAL_RATE_LIMIT")
	c.BulkRateCount, c.BulkRateWindow = p.rate("PORTAL_BULK_RATE_LIMIT")
	if strings.EqualFold(c.StaffAppID, "none") {
		c.StaffAppID, c.StaffDisabled = "", true
		if c.ProtectStaff && p.getenv("PORTAL_PROTECT_PORTAL_STAFF") != "" {
			p.fail("PORTAL_PROTECT_PORTAL_STAFF", "is true, but PORTAL_STAFF_APP_ID is none: the portal cannot tell its staff without the sign-in app")
		}
		c.ProtectStaff = false
	}
	if c.MetricsToken != "" && len(c.MetricsToken) < 32 {
		p.fail("PORTAL_METRICS_TOKEN", "is %d characters: want at least 32 (for example from `openssl rand -base64 32`)", len(c.MetricsToken))
	}
	for _, k := range c.AuditKeys {
		if slices.Contains(c.SessionKeys, k) {
			p.fail("PORTAL_AUDIT_KEY", "repeats a key of PORTAL_SESSION_KEYS: use a secret of its own")
			break
		}
	}
	if c.RoleOperator != "" && c.RoleOperator == c.RoleSupervisor {
		p.fail("PORTAL_ROLE_SUPERVISOR", "must differ from PORTAL_ROLE_OPERATOR")
	}
	if c.GraphTenantID != "" && !guid.MatchString(c.GraphTenantID) && !strings.Contains(c.GraphTenantID, ".") {
		p.fail("PORTAL_GRAPH_TENANT_ID", "must be a tenant id (GUID) or a verified domain name")
	}
	c.set = p.set
	return c, errors.Join(p.errs...)
}

type parser struct {
	getenv func(string) string
	dev    bool
	errs   []error
	set    map[string]bool
}

func (p *parser) fail(name, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s %s", name, fmt.Sprintf(format, args...)))
}

func lookup(name string) Var {
	for _, v := range Vars {
		if v.Name == name {
			return v
		}
	}
	panic("config: undeclared variable " + name)
}

// str returns the variable's value or its default, and records a missing
// required one.
// reasons reads the quick reasons: a |-separated list of short texts.
func (p *parser) reasons(name string) []string {
	s := p.str(name)
	if strings.EqualFold(s, "none") {
		return nil
	}
	var out []string
	for i, r := range strings.Split(s, "|") {
		r = strings.TrimSpace(r)
		if msg := textProblem(r, 120); r == "" || msg != "" {
			p.fail(name, "reason %d %s", i+1, cmp.Or(msg, "is empty"))
			continue
		}
		out = append(out, r)
	}
	if len(out) > 8 {
		p.fail(name, "lists %d reasons: at most 8", len(out))
	}
	return out
}

// helpFile reads a file of KIND: TEXT lines.
func (p *parser) helpFile(name string) map[string]string {
	path := p.str(name)
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		p.fail(name, "cannot be read: %v", err)
		return nil
	}
	help := map[string]string{}
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		kind, text, ok := strings.Cut(line, ":")
		kind, text = strings.TrimSpace(kind), strings.TrimSpace(text)
		switch {
		case !ok || kind == "" || text == "":
			p.fail(name, "%s line %d: want KIND: TEXT, as in privileged_role: Call the identity team on 4410.", path, n+1)
		case help[kind] != "":
			p.fail(name, "%s line %d: %s is listed twice", path, n+1, kind)
		case textProblem(text, maxPassInstructions) != "":
			p.fail(name, "%s line %d: the text %s", path, n+1, textProblem(text, maxPassInstructions))
		default:
			help[kind] = text
		}
	}
	return help
}

// textProblem says what is wrong with a text shown on a page, or "".
func textProblem(s string, max int) string {
	switch {
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case utf8.RuneCountInString(s) > max:
		return fmt.Sprintf("is %d characters: at most %d", utf8.RuneCountInString(s), max)
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) >= 0:
		return "contains a control or formatting character"
	}
	return ""
}

// text reads a sentence shown on a page: valid UTF-8, at most max
// characters, without control or format characters (which could hide or
// reorder what the page says).
func (p *parser) text(name string, max int) string {
	s := p.str(name)
	if msg := textProblem(s, max); msg != "" {
		p.fail(name, "%s", msg)
		return ""
	}
	return s
}

func (p *parser) str(name string) string {
	v := lookup(name)
	s := strings.TrimSpace(p.getenv(name))
	if s == "" {
		s = v.Default
	} else {
		if p.set == nil {
			p.set = map[string]bool{}
		}
		p.set[name] = true
	}
	if s == "" && v.Required && !p.dev {
		p.fail(name, "is required: %s", v.Help)
	}
	if len(s) > 4096 {
		p.fail(name, "is too long (%d characters)", len(s))
		return ""
	}
	return s
}

func (p *parser) oneOf(name string, allowed ...string) string {
	s := strings.ToLower(p.str(name))
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	p.fail(name, "is %q: want one of %s", s, strings.Join(allowed, ", "))
	return ""
}

func (p *parser) duration(name string, lo, hi time.Duration) time.Duration {
	s := p.str(name)
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		p.fail(name, "is %q: want a duration such as 30s, 15m or 8h", s)
	case d < lo || d > hi:
		p.fail(name, "is %s: want between %s and %s", d, lo, hi)
	}
	return d
}

// durationOrOff is a duration, or 0 for off.
func (p *parser) durationOrOff(name string, lo, hi time.Duration) time.Duration {
	if strings.EqualFold(strings.TrimSpace(p.str(name)), "off") {
		return 0
	}
	return p.duration(name, lo, hi)
}

func (p *parser) boolean(name string) bool {
	s := p.str(name)
	b, err := strconv.ParseBool(s)
	if err != nil {
		p.fail(name, "is %q: want true or false", s)
	}
	return b
}

func (p *parser) integer(name string, lo, hi int) int {
	s := p.str(name)
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		p.fail(name, "is %q: want a whole number from %d to %d", s, lo, hi)
	}
	return n
}

// rate parses COUNT/WINDOW, such as 20/1h.
func (p *parser) rate(name string) (int, time.Duration) {
	s := p.str(name)
	count, window, ok := strings.Cut(s, "/")
	n, err := strconv.Atoi(strings.TrimSpace(count))
	d, derr := time.ParseDuration(strings.TrimSpace(window))
	if !ok || err != nil || derr != nil || n < 1 || n > 10000 || d < time.Minute || d > 7*24*time.Hour {
		p.fail(name, "is %q: want COUNT/WINDOW with COUNT from 1 to 10000 and WINDOW from 1m to 168h, such as 20/1h", s)
		return 0, 0
	}
	return n, d
}

func (p *parser) publicURL(name string) *url.URL {
	s := p.str(name)
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		p.fail(name, "is %q: want an absolute http(s) URL without query, such as https://tap.example.com", s)
		return &url.URL{Scheme: "http", Host: "localhost"}
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u
}

func (p *parser) httpsURL(name string, allowLoopbackHTTP bool) string {
	s := p.str(name)
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	ok := err == nil && u.Host != "" && (u.Scheme == "https" || allowLoopbackHTTP && u.Scheme == "http" && isLoopback(u.Hostname()))
	if !ok {
		p.fail(name, "is %q: want an absolute https URL", s)
	}
	return s
}

// DevPublicURL is the demo's public URL when PORTAL_PUBLIC_URL is not
// set: http on the listen address's host and port, localhost for an
// address that listens on every interface.
func DevPublicURL(addr string) *url.URL {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return &url.URL{Scheme: "http", Host: "localhost:8080"}
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return &url.URL{Scheme: "http", Host: net.JoinHostPort(host, port)}
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

func (p *parser) database(name string) string {
	s := p.str(name)
	switch {
	case strings.HasPrefix(s, "sqlite:") && len(s) > len("sqlite:"):
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
	default:
		p.fail(name, "is %q: want sqlite:PATH or postgres://user@host/db", redactURL(s))
	}
	return s
}

// redactURL hides a password in a database URL before it reaches a
// message.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

// MinSecretLength is the shortest accepted session or audit key.
const MinSecretLength = 32

func (p *parser) secrets(name string) []string {
	s := p.str(name)
	if s == "" {
		return nil
	}
	var keys []string
	for i, k := range strings.Split(s, ",") {
		k = strings.TrimSpace(k)
		if len(k) < MinSecretLength {
			p.fail(name, "key %d is %d characters: want at least %d (for example from `openssl rand -base64 48`)", i+1, len(k), MinSecretLength)
			continue
		}
		keys = append(keys, k)
	}
	return keys
}

// parseWith reads a setting with parse, whose error says what is wrong.
func parseWith[T any](p *parser, name string, parse func(string) (T, error)) T {
	v, err := parse(p.str(name))
	if err != nil {
		p.fail(name, "%s", portalMessage(err))
	}
	return v
}

// portalMessage is the message of a portal error, or the error's text.
func portalMessage(err error) string {
	var pe *portal.Error
	if errors.As(err, &pe) && pe.Message != "" {
		return pe.Message
	}
	return err.Error()
}

// list reads a comma-separated list, without empty items.
func (p *parser) list(name string) []string {
	var out []string
	for _, v := range strings.Split(p.str(name), ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// channels reads the delivery channels: known names, each once.
func (p *parser) channels(name string) []string {
	var out []string
	for _, c := range p.list(name) {
		c = strings.ToLower(c)
		switch {
		case c != "read" && c != "manager" && c != "link":
			p.fail(name, "holds %q: want read, manager or link", c)
		case slices.Contains(out, c):
			p.fail(name, "lists %s twice", c)
		default:
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		p.fail(name, "offers no channel: want read, manager or link, the default first")
	}
	return out
}

// mailbox reads a mailbox: an object id or an address.
func (p *parser) mailbox(name string) string {
	s := p.str(name)
	if s != "" && !guid.MatchString(s) && !mailAddress(s) {
		p.fail(name, "is %q: want the sending mailbox's address (such as tap-portal@contoso.com) or object id", s)
		return ""
	}
	return s
}

// addresses reads comma-separated mail addresses.
func (p *parser) addresses(name string) []string {
	out := p.list(name)
	for _, a := range out {
		if !mailAddress(a) {
			p.fail(name, "holds %q: want comma-separated mail addresses such as soc@contoso.com", a)
			return nil
		}
	}
	if len(out) > 20 {
		p.fail(name, "lists %d addresses: at most 20", len(out))
	}
	return out
}

// mailAddress reports whether s is a bare mail address with a dotted
// domain.
func mailAddress(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".") &&
		!strings.ContainsAny(s, " \t<>,;\"") && strings.Count(s, "@") == 1 && len(s) <= 254
}

// durations reads comma-separated durations, each from lo to hi.
func (p *parser) durations(name string, lo, hi time.Duration) []time.Duration {
	var out []time.Duration
	for _, v := range p.list(name) {
		d, err := time.ParseDuration(v)
		if err != nil || d < lo || d > hi {
			p.fail(name, "holds %q: want comma-separated durations from %s to %s, such as 30s,2m,10m", v, lo, hi)
			return nil
		}
		out = append(out, d)
	}
	return out
}

func (p *parser) guids(name string) []string {
	s := p.str(name)
	if s == "" {
		return nil
	}
	var out []string
	for _, id := range strings.Split(s, ",") {
		id = strings.ToLower(strings.TrimSpace(id))
		if !guid.MatchString(id) {
			p.fail(name, "holds %q: want comma-separated object ids (GUIDs)", id)
			continue
		}
		out = append(out, id)
	}
	return out
}

func (p *parser) roleIDs(name string) []string {
	if strings.EqualFold(strings.TrimSpace(p.getenv(name)), "all") || strings.TrimSpace(p.getenv(name)) == "" {
		return nil
	}
	return p.guids(name)
}

// StaffApp is the app id whose app-role holders are the portal's staff, or
// "" when the staff checks are off.
func (c Config) StaffApp() string {
	switch {
	case c.StaffDisabled:
		return ""
	case c.StaffAppID != "":
		return c.StaffAppID
	}
	return c.OIDCClientID
}
