package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func production() map[string]string {
	return map[string]string{
		"PORTAL_SESSION_KEYS":       strings.Repeat("k", 40),
		"PORTAL_AUDIT_KEY":          strings.Repeat("a", 40),
		"PORTAL_OIDC_ISSUER":        "https://login.microsoftonline.com/6f1d3c2a-8b4e-4d7a-9e21-3c5b7a9d0e14/v2.0",
		"PORTAL_OIDC_CLIENT_ID":     "client",
		"PORTAL_OIDC_CLIENT_SECRET": "secret",
		"PORTAL_GRAPH_TENANT_ID":    "6f1d3c2a-8b4e-4d7a-9e21-3c5b7a9d0e14",
		"PORTAL_GRAPH_CLIENT_ID":    "graph-client",
		"PORTAL_GRAPH_CERT_FILE":    "/secrets/graph.pem",
	}
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(production()), false)
	if err != nil {
		t.Fatalf("Load(valid production settings) = %v", err)
	}
	if c.Addr != ":8080" || c.PublicURL.String() != "http://localhost:8080" || c.DatabaseURL != "sqlite:data/portal.db" ||
		c.RolesClaim != "roles" || c.RoleOperator != "TAP.Operator" || c.RoleSupervisor != "TAP.Supervisor" ||
		c.GraphCloud != "public" || c.SessionIdleTimeout.String() != "30m0s" || c.ProtectedRoleIDs != nil ||
		c.RateLimitCount != 20 || c.RateLimitWindow != time.Hour || c.MaxAuthAge != 15*time.Minute || c.RetentionDays != 0 {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestDirectoryAuditSettings(t *testing.T) {
	c, err := Load(env(production()), false)
	if err != nil {
		t.Fatal(err)
	}
	if c.DirectoryAuditInterval != 5*time.Minute || c.DirectoryAuditDelay != 30*time.Minute || c.DirectoryAuditLookback != 7*24*time.Hour {
		t.Fatalf("directory audit defaults = %s, %s, %s; want 5m, 30m, 168h", c.DirectoryAuditInterval, c.DirectoryAuditDelay, c.DirectoryAuditLookback)
	}
	m := production()
	m["PORTAL_DIRECTORY_AUDIT_INTERVAL"] = " Off "
	if c, err = Load(env(m), false); err != nil || c.DirectoryAuditInterval != 0 {
		t.Fatalf("PORTAL_DIRECTORY_AUDIT_INTERVAL=off: interval %s, err %v; want 0 (not read)", c.DirectoryAuditInterval, err)
	}
	if c, err = Load(env(nil), true); err != nil || c.DirectoryAuditInterval != DevDirectoryAuditInterval || c.DirectoryAuditDelay != DevDirectoryAuditDelay {
		t.Fatalf("dev: interval %s, delay %s, err %v; want the demo's %s and %s", c.DirectoryAuditInterval, c.DirectoryAuditDelay, err,
			DevDirectoryAuditInterval, DevDirectoryAuditDelay)
	}
	if c, err = Load(env(map[string]string{"PORTAL_DIRECTORY_AUDIT_DELAY": "10m"}), true); err != nil || c.DirectoryAuditDelay != 10*time.Minute {
		t.Fatalf("dev with PORTAL_DIRECTORY_AUDIT_DELAY=10m: delay %s, err %v", c.DirectoryAuditDelay, err)
	}
}

func TestLoadRequiresSettingsOutsideDev(t *testing.T) {
	_, err := Load(env(nil), false)
	if err == nil {
		t.Fatal("Load(empty) outside dev succeeded")
	}
	for _, v := range Vars {
		if v.Required && !strings.Contains(err.Error(), v.Name+" is required") {
			t.Errorf("the error does not name the missing %s:\n%v", v.Name, err)
		}
	}
	if _, err := Load(env(nil), true); err != nil {
		t.Fatalf("Load(empty) in dev = %v, want the demo to fill the gaps", err)
	}
}

func TestLoadRefusesBadValues(t *testing.T) {
	for _, tt := range []struct {
		name, value, want string
	}{
		{"PORTAL_PUBLIC_URL", "tap.example.com", "absolute http(s) URL"},
		{"PORTAL_PUBLIC_URL", "https://tap.example.com/?x=1", "without query"},
		{"PORTAL_DATABASE_URL", "mysql://root@db/tap", "sqlite:PATH or postgres://"},
		{"PORTAL_DATABASE_URL", "sqlite:", "sqlite:PATH"},
		{"PORTAL_SESSION_KEYS", "short", "at least 32"},
		{"PORTAL_SESSION_KEYS", strings.Repeat("a", 40) + ",short", "key 2"},
		{"PORTAL_AUDIT_KEY", "short", "at least 32"},
		{"PORTAL_AUDIT_KEY", strings.Repeat("k", 40), "repeats a key of PORTAL_SESSION_KEYS"},
		{"PORTAL_AUDIT_CHECKPOINT_INTERVAL", "1s", "want between 10s and 24h"},
		{"PORTAL_AUDIT_CHECKPOINT_INTERVAL", "often", "duration"},
		{"PORTAL_DIRECTORY_AUDIT_INTERVAL", "never", "want a duration"},
		{"PORTAL_DIRECTORY_AUDIT_INTERVAL", "1s", "want between 10s and 24h"},
		{"PORTAL_DIRECTORY_AUDIT_DELAY", "5s", "want between 1m0s and 24h"},
		{"PORTAL_DIRECTORY_AUDIT_LOOKBACK", "60d", "duration"},
		{"PORTAL_DIRECTORY_AUDIT_LOOKBACK", "1000h", "want between 1h0m0s and 720h"},
		{"PORTAL_SESSION_IDLE_TIMEOUT", "ten minutes", "duration"},
		{"PORTAL_SESSION_MAX_AGE", "30d", "duration"},
		{"PORTAL_SESSION_MAX_AGE", "1s", "between"},
		{"PORTAL_OIDC_ISSUER", "http://login.example.com/", "https"},
		{"PORTAL_GRAPH_CLOUD", "mars", "public, usgov, usgovdod, china"},
		{"PORTAL_GRAPH_BASE_URL", "http://graph.example", "https"},
		{"PORTAL_GRAPH_AUTHORITY_URL", "login", "https"},
		{"PORTAL_GRAPH_TIMEOUT", "-1s", "between"},
		{"PORTAL_GRAPH_TENANT_ID", "not a tenant", "GUID"},
		{"PORTAL_PROTECTED_ROLE_IDS", "Global Administrator", "GUID"},
		{"PORTAL_PROTECTED_GROUP_IDS", "62e90394-69f5-4237-9190-012177145e10,x", "GUID"},
		{"PORTAL_ELIGIBLE_GROUP_IDS", "'; DROP TABLE", "GUID"},
		{"PORTAL_LOG_LEVEL", "loud", "debug, info, warn, error"},
		{"PORTAL_ROLE_SUPERVISOR", "TAP.Operator", "must differ"},
		{"PORTAL_RATE_LIMIT", "twenty", "COUNT/WINDOW"},
		{"PORTAL_RATE_LIMIT", "0/1h", "COUNT/WINDOW"},
		{"PORTAL_RATE_LIMIT", "20/1s", "COUNT/WINDOW"},
		{"PORTAL_BULK_RATE_LIMIT", "all", "COUNT/WINDOW"},
		{"PORTAL_BULK_MAX_ROWS", "20000", "from 0 to 10000"},
		{"PORTAL_BULK_MAX_BYTES", "1MB", "whole number"},
		{"PORTAL_PASS_INSTRUCTIONS", strings.Repeat("Sign in. ", 40), "at most 300"},
		{"PORTAL_QUICK_REASONS", "New phone||Lost key", "reason 2 is empty"},
		{"PORTAL_QUICK_REASONS", strings.Repeat("r|", 8) + "r", "at most 8"},
		{"PORTAL_QUICK_REASONS", "ok|" + strings.Repeat("x", 121), "reason 2 is 121 characters"},
		{"PORTAL_REFUSAL_HELP_FILE", "/nonexistent/help.txt", "cannot be read"},
		{"PORTAL_PASS_INSTRUCTIONS", "Sign in at\u202e moc.elpmaxe", "control or formatting"},
		{"PORTAL_PASS_INSTRUCTIONS", "Sign in\x1b[2J", "control or formatting"},
		{"PORTAL_MAX_AUTH_AGE", "forever", "duration"},
		{"PORTAL_HISTORY_RETENTION_DAYS", "-1", "whole number"},
		{"PORTAL_HISTORY_RETENTION_DAYS", "ninety", "whole number"},
		{"PORTAL_CHANNELS", "read,pigeon", "want read, manager or link"},
		{"PORTAL_CHANNELS", "link,link", "lists link twice"},
		{"PORTAL_CHANNELS", " , ", "offers no channel"},
		{"PORTAL_CHANNELS", "manager,read", "set PORTAL_MAIL_FROM"},
		{"PORTAL_MAIL_FROM", "the shared mailbox", "want the sending mailbox's address"},
		{"PORTAL_MAIL_FROM", "tap@portal@contoso.com", "want the sending mailbox's address"},
		{"PORTAL_LINK_TTL", "1m", "between"},
		{"PORTAL_NOTICE_USER", "yes please", "true or false"},
		{"PORTAL_NOTICE_USER", "true", "set PORTAL_MAIL_FROM"},
		{"PORTAL_NOTICE_SECURITY", "soc@contoso.com,security team", "comma-separated mail addresses"},
		{"PORTAL_NOTICE_SECURITY", "soc@contoso.com", "set PORTAL_MAIL_FROM"},
		{"PORTAL_NOTICE_CONTACT", "the desk\u202e", "control or formatting"},
		{"PORTAL_WEBHOOK_URL", "http://siem.contoso.com/hook", "https"},
		{"PORTAL_WEBHOOK_URL", "https://siem.contoso.com/hook", "PORTAL_WEBHOOK_SECRET is required"},
		{"PORTAL_WEBHOOK_SECRET", "whsec_x", "without PORTAL_WEBHOOK_URL"},
		{"PORTAL_WEBHOOK_MAX_ATTEMPTS", "0", "from 1 to 50"},
		{"PORTAL_WEBHOOK_BACKOFF", "30s,soon", "comma-separated durations"},
		{"PORTAL_WEBHOOK_TIMEOUT", "5m", "between"},
		{"PORTAL_REFUSAL_ALERT", "many", "COUNT/WINDOW"},
		{"PORTAL_APPROVAL_GROUP_IDS", "Finance Team", "object id"},
		{"PORTAL_APPROVAL_LIFETIME_OVER", "four hours", "lifetime"},
		{"PORTAL_APPROVAL_MULTI_USE", "sometimes", "true or false"},
		{"PORTAL_APPROVAL_HOURS", "Mon-Fri 18:00-08:00 Europe/London", "before they start"},
		{"PORTAL_APPROVAL_HOURS", "Mon-Fri 08:00-18:00 Mars/Olympus", "zone"},
		{"PORTAL_APPROVAL_TTL", "30d", "TTL"},
	} {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			m := production()
			m[tt.name] = tt.value
			_, err := Load(env(m), false)
			if err == nil || !strings.Contains(err.Error(), tt.name) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load(%s=%q) = %v, want an error naming %s and saying %q", tt.name, tt.value, err, tt.name, tt.want)
			}
		})
	}
}

func TestDatabasePasswordNotEchoed(t *testing.T) {
	m := production()
	m["PORTAL_DATABASE_URL"] = "mysql://admin:hunter2@db/tap"
	_, err := Load(env(m), false)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error = %v, want it without the password", err)
	}
}

func TestProtectedRoles(t *testing.T) {
	m := production()
	m["PORTAL_PROTECTED_ROLE_IDS"] = " 62E90394-69F5-4237-9190-012177145E10 , 7be44c8a-adaf-4e2a-84d6-ab2649e08a13"
	c, err := Load(env(m), false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"62e90394-69f5-4237-9190-012177145e10", "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"}
	if strings.Join(c.ProtectedRoleIDs, ",") != strings.Join(want, ",") {
		t.Fatalf("ProtectedRoleIDs = %v, want %v", c.ProtectedRoleIDs, want)
	}
}

// The README's configuration table must list every variable.
func TestReadmeListsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Vars {
		if !strings.Contains(string(readme), "| `"+v.Name+"` |") {
			t.Errorf("README.md's configuration table lacks %s", v.Name)
		}
	}
}

// In the demo the portal is where it listens, unless told otherwise.
func TestDevPublicURLFollowsAddr(t *testing.T) {
	for _, tt := range []struct{ addr, public, want string }{
		{"", "", "http://localhost:8080"},
		{":9090", "", "http://localhost:9090"},
		{"0.0.0.0:8181", "", "http://localhost:8181"},
		{"127.0.0.1:8282", "", "http://127.0.0.1:8282"},
		{"[::1]:8383", "", "http://[::1]:8383"},
		{":9090", "https://tap.example.com", "https://tap.example.com"},
	} {
		vars := map[string]string{"PORTAL_ADDR": tt.addr, "PORTAL_PUBLIC_URL": tt.public}
		c, err := Load(env(vars), true)
		if err != nil {
			t.Fatalf("Load(%v): %v", vars, err)
		}
		if got := c.PublicURL.String(); got != tt.want {
			t.Errorf("PORTAL_ADDR %q, PORTAL_PUBLIC_URL %q: public URL %s, want %s", tt.addr, tt.public, got, tt.want)
		}
	}
}

// The refusal help file: comments and blank lines pass, every bad line is
// named by its number, and the texts pass the page-text rules.
func TestRefusalHelpFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "help.txt")
	write := func(body string) {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	vars := map[string]string{"PORTAL_REFUSAL_HELP_FILE": path}
	write("# what to do\n\nprivileged_role: Call the identity team on 4410.\r\nself: Ask a colleague.\n")
	c, err := Load(env(vars), true)
	if err != nil || c.RefusalHelp["privileged_role"] != "Call the identity team on 4410." || c.RefusalHelp["self"] != "Ask a colleague." || len(c.RefusalHelp) != 2 {
		t.Fatalf("RefusalHelp = %v, %v", c.RefusalHelp, err)
	}
	write("self: one\nno colon here\nself: two\nguest: \u202eevil\n")
	_, err = Load(env(vars), true)
	for _, want := range []string{"line 2: want KIND: TEXT", "line 3: self is listed twice", "line 4: the text contains a control or formatting character"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load = %v, want it to say %q", err, want)
		}
	}
}
