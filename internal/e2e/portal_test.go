package e2e

import (
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/app"
	"github.com/tapportal/portal/internal/demotest"
	"github.com/tapportal/portal/internal/devoidc"
	"github.com/tapportal/portal/internal/graph/graphemu"
)

// portalOptions change the portal a journey runs against.
type portalOptions = demotest.Options

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
	p    *demotest.Portal
}

// startPortal starts a portal that stops when the test ends. Its logs are
// printed if the test fails.
func startPortal(t *testing.T, opts portalOptions) *portal {
	t.Helper()
	p := demotest.Start(t, opts)
	return &portal{url: p.URL, demo: p.Demo, p: p}
}

// seededUser is what a journey needs to know about a user of the demo
// tenant.
type seededUser struct {
	ID, DisplayName, UPN string
	// Roles are the display names of the directory roles the user holds,
	// directly or through a group.
	Roles []string
}

func seeded(p *portal, u graphemu.User) seededUser {
	s := seededUser{ID: u.ID, DisplayName: u.DisplayName, UPN: u.UserPrincipalName}
	p.demo.Graph.View(func(tn *graphemu.Tenant) {
		for _, r := range tn.RolesOf(u.ID) {
			s.Roles = append(s.Roles, r.DisplayName)
		}
	})
	return s
}

// user returns the seeded user with this id.
func (p *portal) user(t *testing.T, id string) seededUser {
	t.Helper()
	return seeded(p, demotest.Find(t, p.demo.Graph, "user "+id, func(u *graphemu.User, _ *graphemu.Tenant) bool { return u.ID == id }))
}

// typeable names can be typed into the search box with plain key events.
var typeable = regexp.MustCompile(`^[A-Za-z][A-Za-z ]*$`)

// eligibleWithoutPass finds a user the portal will issue a pass to (see
// demotest.Eligible), with no pass yet and a name a browser can type. The
// users whose ids are in except are passed over, so that a journey can
// find several.
func (p *portal) eligibleWithoutPass(t *testing.T, except ...string) seededUser {
	t.Helper()
	return seeded(p, p.p.EligibleUser(t, demotest.Want{Pass: demotest.NoPass, Except: except, Name: typeable}))
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
	p.demo.Graph.Update(func(tn *graphemu.Tenant) { tn.AssignRole(userID, graphemu.RoleGlobalAdministrator, "/") })
}
