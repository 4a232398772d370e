// Package demotest starts the real portal, wired by internal/app, on the
// demo tenant (the Graph emulator and the embedded OpenID provider) for the
// tests of other packages, and finds the seeded users a test needs. The
// handler tests, the browser journeys and the Graph client tests share it,
// so that "an eligible user" means one thing everywhere.
package demotest

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/app"
	"github.com/tapportal/portal/internal/config"
	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/testutil"
)

// Options change the portal a test runs against.
type Options struct {
	// Env adds to or overrides the PORTAL_* variables Start sets.
	Env map[string]string
	// Now is the portal's clock; default time.Now.
	Now func() time.Time
}

// Portal is a portal served on a loopback port with SQLite in a temporary
// directory (unless Env names another database), on the demo tenant.
type Portal struct {
	URL    string
	Demo   *app.Demo
	App    *app.App
	Config config.Config
	// Logs holds every JSON log line of the portal and the demo tenant.
	Logs *testutil.Buffer
	// DBPath is the SQLite file of the history.
	DBPath string
	opts   Options
}

// Start starts a portal that stops when the test ends. Its logs are
// printed if the test fails.
func Start(t testing.TB, o Options) *Portal {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	dir := t.TempDir()
	db := filepath.Join(dir, "portal.db")
	vars := map[string]string{"PORTAL_PUBLIC_URL": base, "PORTAL_DATABASE_URL": "sqlite:" + db}
	for k, v := range o.Env {
		vars[k] = v
	}
	cfg, err := config.Load(func(k string) string { return vars[k] }, true)
	if err != nil {
		ln.Close()
		t.Fatalf("configuration: %v", err)
	}
	logs := &testutil.Buffer{}
	demo, err := app.StartDemo(&cfg, dir, logger(logs))
	if err != nil {
		ln.Close()
		t.Fatalf("starting the demo tenant: %v", err)
	}
	t.Cleanup(demo.Close)
	p := &Portal{URL: base, Demo: demo, Config: cfg, Logs: logs, DBPath: db, opts: o}
	p.App = p.serve(t, ln)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("portal logs:\n%s", logs.String())
		}
	})
	return p
}

func logger(logs *testutil.Buffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// serve runs a portal with p's configuration on ln until the test ends.
func (p *Portal) serve(t testing.TB, ln net.Listener) *app.App {
	t.Helper()
	a, err := app.New(context.Background(), p.Config, logger(p.Logs), app.Options{RootCAs: p.Demo.Graph.CertPool(), Now: p.opts.Now, SampleCohort: app.SampleCohort, Demo: p.Demo})
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
	})
	return a
}

// Replica starts a second portal on the same database, demo tenant and
// session keys, as a second replica behind a load balancer would be. The
// provider knows the first one's redirect URI only, so browsers sign in
// through the first and share their cookies, which carry no port.
func (p *Portal) Replica(t testing.TB) *Portal {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := *p
	r.URL = "http://" + ln.Addr().String()
	r.App = r.serve(t, ln)
	return &r
}

// Personas are the seeded users who sign in to the portal.
var Personas = []string{graphemu.OperatorUserID, graphemu.SupervisorUserID, graphemu.NoRoleUserID, graphemu.OtherOperatorUserID}

// faulty are the demo users made to test the portal: Graph misbehaves
// on two, the third has a name that reads differently than it is.
var faulty = []string{graphemu.ActsThenFailsUserID, graphemu.FailsUnsureUserID, graphemu.SpoofedNameUserID}

// ReachableManager accepts a user whose manager can receive mail: an
// enabled user with a mailbox and an address, who is not the user.
func ReachableManager(u *graphemu.User, tn *graphemu.Tenant) bool {
	m := tn.ManagerOf(u)
	return m != nil && m.ID != u.ID && m.AccountEnabled && m.Mailbox && m.Mail != ""
}

// PassState is the pass an eligible user must hold.
type PassState int

// The pass states Want can ask for.
const (
	// NoPass is a user with no pass at all.
	NoPass PassState = iota
	// UsablePass is a user whose pass can be used now.
	UsablePass
)

// Want describes the eligible user a test needs.
type Want struct {
	Pass PassState
	// Except are users to pass over, so that a test can find several.
	Except []string
	// Name, when set, must match the display name (a name a browser test
	// can type, say).
	Name *regexp.Regexp
	// Also, when set, must accept the user too.
	Also func(*graphemu.User, *graphemu.Tenant) bool
}

// Rails are the guardrail settings a seeded user must pass.
type Rails struct {
	ProtectedGroupIDs []string
	EligibleGroupIDs  []string
	// ApprovalGroupIDs are groups whose members' passes wait for
	// approval: an eligible user is in none, so that an issue is issued.
	ApprovalGroupIDs []string
}

// Eligible reports whether the portal must give u a pass under rails at
// now: an enabled member who is not a persona, can reach no directory role
// (active or eligible, directly, through a group or through PIM for
// Groups), holds none of the portal's own app roles, is inside the tenant
// policy's targets, outside the protected groups and inside an eligible
// one when any is set, and whose display name holds no markup (so a test
// can look for it in a page).
func Eligible(tn *graphemu.Tenant, u *graphemu.User, rails Rails, now time.Time) bool {
	if u.UserType != "Member" || !u.AccountEnabled || slices.Contains(Personas, u.ID) || slices.Contains(faulty, u.ID) || tn.Privileged(u.ID, now) ||
		tn.PortalStaff(graphemu.DemoSignInAppID, u.ID) ||
		tn.Policy.State != "enabled" || !tn.TAPTargets(u) || strings.ContainsAny(u.DisplayName, "<>&'\"") {
		return false
	}
	member := func(ids []string) bool {
		return slices.ContainsFunc(ids, func(g string) bool { return tn.IsMemberOf(u.ID, g) })
	}
	return !member(rails.ProtectedGroupIDs) && !member(rails.ApprovalGroupIDs) && (len(rails.EligibleGroupIDs) == 0 || member(rails.EligibleGroupIDs))
}

// WatchedUser returns a user the guardrails let through whose pass waits
// for approval, being in one of the approval rules' groups, with the pass
// w asks for.
func (p *Portal) WatchedUser(t testing.TB, w Want) graphemu.User {
	t.Helper()
	rails := Rails{ProtectedGroupIDs: p.Config.ProtectedGroupIDs, EligibleGroupIDs: p.Config.EligibleGroupIDs}
	now := p.Demo.Graph.Clock().Now()
	return Find(t, p.Demo.Graph, "user whose pass waits for approval", func(u *graphemu.User, tn *graphemu.Tenant) bool {
		watched := slices.ContainsFunc(p.Config.Approval.GroupIDs, func(g string) bool { return tn.IsMemberOf(u.ID, g) })
		return watched && Eligible(tn, u, rails, now) && w.Matches(tn, u, now)
	})
}

// Matches reports whether u holds the pass w asks for and is not excluded.
func (w Want) Matches(tn *graphemu.Tenant, u *graphemu.User, now time.Time) bool {
	if slices.Contains(w.Except, u.ID) || w.Name != nil && !w.Name.MatchString(u.DisplayName) || w.Also != nil && !w.Also(u, tn) {
		return false
	}
	switch w.Pass {
	case UsablePass:
		if u.TAP == nil {
			return false
		}
		usable, _ := tn.TAPUsability(u, now)
		return usable
	default:
		return u.TAP == nil
	}
}

// Find returns a copy of the first seeded user, in the tenant's order,
// that match accepts, read under the emulator's lock.
func Find(t testing.TB, emu *graphemu.Server, what string, match func(*graphemu.User, *graphemu.Tenant) bool) graphemu.User {
	t.Helper()
	var found *graphemu.User
	emu.View(func(tn *graphemu.Tenant) {
		for _, u := range tn.Users {
			if match(u, tn) {
				c := *u
				found = &c
				return
			}
		}
	})
	if found == nil {
		t.Fatalf("the demo tenant has no %s", what)
	}
	return *found
}

// EligibleUser returns a seeded user the portal will issue a pass to under
// its configured guardrails, holding the pass w asks for.
func (p *Portal) EligibleUser(t testing.TB, w Want) graphemu.User {
	t.Helper()
	rails := Rails{ProtectedGroupIDs: p.Config.ProtectedGroupIDs, EligibleGroupIDs: p.Config.EligibleGroupIDs, ApprovalGroupIDs: p.Config.Approval.GroupIDs}
	now := p.Demo.Graph.Clock().Now()
	return Find(t, p.Demo.Graph, "eligible user", func(u *graphemu.User, tn *graphemu.Tenant) bool {
		return Eligible(tn, u, rails, now) && w.Matches(tn, u, now)
	})
}
