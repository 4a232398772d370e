package e2e

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/app"
	"github.com/tapportal/portal/internal/config"
	"github.com/tapportal/portal/internal/devoidc"
	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/testutil"
)

// portalOptions change the portal a journey runs against.
type portalOptions struct {
	// Env adds to or overrides the PORTAL_* variables the harness sets.
	Env map[string]string
	// Now is the portal's clock; default time.Now. A journey about stale
	// sign-ins can move it on.
	Now func() time.Time
}

// clock is a portal clock a journey can move on, for what only time
// changes: a sign-in growing too old to issue, say.
type clock struct {
	ahead atomic.Int64 // nanoseconds ahead of the real time
}

// now is the clock's time: the real time, moved on.
func (c *clock) now() time.Time {
	return time.Now().Add(time.Duration(c.ahead.Load()))
}

// moveOn moves the clock on by d.
func (c *clock) moveOn(d time.Duration) {
	c.ahead.Add(int64(d))
}

// portal is the real portal wired by internal/app on the demo tenant (the
// Graph emulator and the embedded OpenID provider), served on a loopback
// port with SQLite in a temporary directory.
type portal struct {
	url  string
	demo *app.Demo
	logs *testutil.Buffer
}

// startPortal starts a portal that stops when the test ends. Its logs are
// printed if the test fails.
func startPortal(t *testing.T, opts portalOptions) *portal {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	dir := t.TempDir()
	vars := map[string]string{
		"PORTAL_PUBLIC_URL":   base,
		"PORTAL_DATABASE_URL": "sqlite:" + filepath.Join(dir, "portal.db"),
	}
	for k, v := range opts.Env {
		vars[k] = v
	}
	cfg, err := config.Load(func(k string) string { return vars[k] }, true)
	if err != nil {
		ln.Close()
		t.Fatalf("configuration: %v", err)
	}
	logs := &testutil.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	demo, err := app.StartDemo(&cfg, dir, logger)
	if err != nil {
		ln.Close()
		t.Fatalf("starting the demo tenant: %v", err)
	}
	t.Cleanup(demo.Close)
	a, err := app.New(context.Background(), cfg, logger, app.Options{RootCAs: demo.Graph.CertPool(), Now: opts.Now})
	if err != nil {
		ln.Close()
		t.Fatalf("wiring the portal: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("serving the portal: %v", err)
		}
		a.Close()
		if t.Failed() {
			t.Logf("portal logs:\n%s", logs.String())
		}
	})
	return &portal{url: base, demo: demo, logs: logs}
}

// seededUser is what a journey needs to know about a user of the demo
// tenant.
type seededUser struct {
	ID, DisplayName, UPN string
	// Roles are the display names of the directory roles the user holds,
	// directly or through a group.
	Roles []string
}

// findUser returns the first seeded user, in the tenant's order, that
// match accepts. The tenant is read under the emulator's lock and nothing
// of it is kept.
func (p *portal) findUser(t *testing.T, what string, match func(*graphemu.User, *graphemu.Tenant) bool) seededUser {
	t.Helper()
	var found *seededUser
	p.demo.Graph.View(func(tn *graphemu.Tenant) {
		for _, u := range tn.Users {
			if match(u, tn) {
				found = &seededUser{ID: u.ID, DisplayName: u.DisplayName, UPN: u.UserPrincipalName, Roles: rolesOf(tn, u.ID)}
				return
			}
		}
	})
	if found == nil {
		t.Fatalf("the demo tenant has no %s", what)
	}
	return *found
}

// user returns the seeded user with this id.
func (p *portal) user(t *testing.T, id string) seededUser {
	t.Helper()
	return p.findUser(t, "user "+id, func(u *graphemu.User, _ *graphemu.Tenant) bool { return u.ID == id })
}

// typeable names can be typed into the search box with plain key events.
var typeable = regexp.MustCompile(`^[A-Za-z][A-Za-z ]*$`)

// eligibleWithoutPass finds a user the portal will issue a pass to: an
// enabled member, not a persona, holding no directory role, outside every
// group the tenant's pass policy excludes and outside the demo's group to
// protect (so that configuring it does not break the journey), with no
// pass yet. The users whose ids are in except are passed over, so that a
// journey can find several.
func (p *portal) eligibleWithoutPass(t *testing.T, except ...string) seededUser {
	t.Helper()
	personas := []string{graphemu.OperatorUserID, graphemu.SupervisorUserID, graphemu.NoRoleUserID, graphemu.OtherOperatorUserID}
	return p.findUser(t, "eligible user without a pass", func(u *graphemu.User, tn *graphemu.Tenant) bool {
		if u.UserType != "Member" || !u.AccountEnabled || u.TAP != nil || slices.Contains(personas, u.ID) || slices.Contains(except, u.ID) ||
			!typeable.MatchString(u.DisplayName) || len(rolesOf(tn, u.ID)) > 0 || inGroup(tn, u.ID, graphemu.ExecutiveGroupID, 0) {
			return false
		}
		for _, x := range tn.Policy.ExcludeTargets {
			if inGroup(tn, u.ID, x.ID, 0) {
				return false
			}
		}
		return true
	})
}

// rolesOf lists the directory roles a user holds directly or through a
// (possibly nested) group.
func rolesOf(tn *graphemu.Tenant, userID string) []string {
	var names []string
	for _, r := range tn.Roles {
		for _, m := range r.Members {
			if m == userID || inGroup(tn, userID, m, 0) {
				names = append(names, r.DisplayName)
				break
			}
		}
	}
	return names
}

// inGroup reports whether the user is a member of the group, directly or
// through nested groups.
func inGroup(tn *graphemu.Tenant, userID, groupID string, depth int) bool {
	if depth > 10 {
		return false
	}
	for _, g := range tn.Groups {
		if g.ID != groupID {
			continue
		}
		for _, m := range g.Members {
			if m == userID || inGroup(tn, userID, m, depth+1) {
				return true
			}
		}
	}
	return false
}

// persona returns the demo provider's persona with this key.
func persona(t *testing.T, key string) devoidc.Persona {
	t.Helper()
	for _, p := range devoidc.DemoPersonas() {
		if p.Key == key {
			return p
		}
	}
	t.Fatalf("the demo provider has no persona %q", key)
	return devoidc.Persona{}
}

// makeGlobalAdministrator gives the user the Global Administrator role in
// the emulated directory, as an administrator would in Entra.
func (p *portal) makeGlobalAdministrator(t *testing.T, userID string) {
	t.Helper()
	done := false
	p.demo.Graph.Update(func(tn *graphemu.Tenant) {
		for _, r := range tn.Roles {
			if r.TemplateID == graphemu.RoleGlobalAdministrator {
				r.Members = append(r.Members, userID)
				done = true
				return
			}
		}
	})
	if !done {
		t.Fatal("the demo tenant has no active Global Administrator role")
	}
}
