package issuance_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/portal"
)

// watchOf returns the watched pass of a user.
func (e *env) watchOf(t *testing.T, user string) portal.WatchedPass {
	t.Helper()
	all, err := e.store.Watches(context.Background(), portal.WatchFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		if p.TargetID == user {
			return p
		}
	}
	t.Fatalf("no watched pass for %s in %+v", user, all)
	return portal.WatchedPass{}
}

// TestWatchPasses follows up the seeded passes made elsewhere and one the
// portal issues, through the SDK and the emulator: a pass still usable
// after its holder registered Authenticator, one waiting, one used, one
// that went without being used, and a look that fails.
func TestWatchPasses(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.demo.Graph.Update(func(tn *graphemu.Tenant) { tn.AuditDelay = 0 })
	if _, err := e.reconciler(time.Minute, time.Millisecond).Run(ctx); err != nil {
		t.Fatal(err)
	}
	w := issuance.NewWatcher(e.svc, e.store, issuance.WatchOptions{Every: time.Millisecond})
	rep, err := w.Run(ctx)
	if err != nil || rep.New != 7 || rep.Looked != 7 || rep.Failed != 0 {
		t.Fatalf("first run = %+v, %v; want the seven passes made elsewhere looked at", rep, err)
	}
	grace := e.watchOf(t, graphemu.StillUsableUserID)
	if grace.State != portal.WatchOpen || !grace.StillUsable || !strings.Contains(grace.After, "Authenticator") || grace.TAPID == "" || !grace.Elsewhere() {
		t.Fatalf("Grace's pass = %+v; want still usable after Authenticator, found on her", grace)
	}
	if yuki := e.watchOf(t, graphemu.EndingUnusedUserID); yuki.State != portal.WatchOpen || yuki.Use != portal.UseNotUsed || yuki.Next.After(yuki.Ends) {
		t.Fatalf("Yuki's pass = %+v; want open, one-time and not used, looked at again when it ends", yuki)
	}
	if grace.SignedIn.IsZero() || !strings.Contains(grace.SignIn, "while the pass worked") {
		t.Fatalf("Grace's sign-in = %v %q; want her sign-in while the pass worked", grace.SignedIn, grace.SignIn)
	}
	kofi := e.watchOf(t, graphemu.PIMGroupMemberUserID)
	if kofi.State != portal.WatchOpen || kofi.StillUsable || kofi.Use != portal.UseUnknown || !kofi.SignedIn.IsZero() ||
		kofi.SignIn != "Graph holds no sign-in for the user." {
		t.Fatalf("Kofi's pass = %+v; want open, reusable so its use unknown, no sign-in", kofi)
	}

	// A one-time pass the portal issues: waiting, then used.
	req := request()
	req.OneTime = true
	if _, err := e.svc.Issue(ctx, operator, graphemu.TAPExpiredUserID, req); err != nil {
		t.Fatal(err)
	}
	if rep, err = w.Run(ctx); err != nil || rep.New != 1 {
		t.Fatalf("run after an issue = %+v, %v", rep, err)
	}
	ben := e.watchOf(t, graphemu.TAPExpiredUserID)
	if ben.Elsewhere() || ben.State != portal.WatchOpen || ben.Use != portal.UseNotUsed || ben.Ends.IsZero() {
		t.Fatalf("the portal's pass = %+v; want open, not used yet, its end known", ben)
	}
	if err := e.demo.Graph.MarkTAPUsed(graphemu.TAPExpiredUserID); err != nil {
		t.Fatal(err)
	}
	// Kofi's pass is removed in the admin center; Grace's user cannot be
	// read for a moment.
	e.demo.Graph.Update(func(tn *graphemu.Tenant) { tn.LookupUser(graphemu.PIMGroupMemberUserID).TAP = nil })
	remove := e.demo.Graph.Inject(graphemu.Fault{Path: "/v1.0/users/" + graphemu.StillUsableUserID + "/authentication/temporaryAccessPassMethods", Status: 403})
	rep, err = w.Run(ctx)
	remove()
	if err != nil || rep.Failed != 1 {
		t.Fatalf("third run = %+v, %v; want Grace's look failed", rep, err)
	}
	if ben = e.watchOf(t, graphemu.TAPExpiredUserID); ben.State != portal.WatchUsed || ben.Use != portal.UseUsed {
		t.Fatalf("after sign-in = %+v; want used", ben)
	}
	if kofi = e.watchOf(t, graphemu.PIMGroupMemberUserID); kofi.State != portal.WatchGone || !strings.Contains(kofi.Detail, "no longer the user's") {
		t.Fatalf("Kofi's pass removed = %+v; want gone", kofi)
	}
	if grace = e.watchOf(t, graphemu.StillUsableUserID); grace.State != portal.WatchUnknown || grace.Detail == "" || !grace.StillUsable {
		t.Fatalf("Grace's failed look = %+v; want unknown with the reason, the last look kept", grace)
	}
	c, err := e.store.WatchCounts(ctx, portal.WatchFilter{})
	// Used: Ben's and the seeded one-time pass used before the portal looked.
	if used := e.watchOf(t, graphemu.TAPUsedUserID); used.State != portal.WatchUsed {
		t.Fatalf("the seeded used pass = %+v", used)
	}
	if err != nil || c.Used != 2 || c.Unknown != 1 || c.StillUsable != 0 {
		t.Fatalf("counts = %+v, %v", c, err)
	}
	// Done passes are not looked at again: only the open and the failed.
	before := len(e.demo.Graph.Requests())
	if rep, err = w.Run(ctx); err != nil || rep.New != 0 || rep.Looked != 4 {
		t.Fatalf("fourth run = %+v, %v; want the 3 waiting and the failed one looked at again", rep, err)
	}
	// Each look reads the pass and the methods, and the sign-in activity
	// only when Graph does not say whether the pass was used.
	if reads := len(e.demo.Graph.Requests()) - before; reads > 3*rep.Looked {
		t.Fatalf("%d Graph requests for %d looks; want at most three each", reads, rep.Looked)
	}

	// A second one-time pass for Ben, seen unused, then removed: it ended
	// without being seen used.
	req.Submission = issuance.NewSubmission()
	if _, err := e.svc.Issue(ctx, operator, graphemu.TAPExpiredUserID, req); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	e.demo.Graph.Update(func(tn *graphemu.Tenant) { tn.LookupUser(graphemu.TAPExpiredUserID).TAP = nil })
	if _, err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	unused, err := e.store.Watches(ctx, portal.WatchFilter{Unused: true})
	if err != nil || len(unused) != 1 || unused[0].TargetID != graphemu.TAPExpiredUserID || unused[0].State != portal.WatchGone {
		t.Fatalf("unused = %+v, %v; want Ben's second pass, gone unused", unused, err)
	}
}

// TestWatchWithoutSignInActivity: in a tenant without Entra ID P1 the
// follow-up says why sign-in activity is not known, and the refusal is
// remembered rather than asked again for every pass.
func TestWatchWithoutSignInActivity(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.demo.Graph.Update(func(tn *graphemu.Tenant) { tn.AuditDelay, tn.NoPremium = 0, true })
	if _, err := e.reconciler(time.Minute, time.Millisecond).Run(ctx); err != nil {
		t.Fatal(err)
	}
	w := issuance.NewWatcher(e.svc, e.store, issuance.WatchOptions{Every: time.Millisecond})
	for range 2 {
		if rep, err := w.Run(ctx); err != nil || rep.Failed != 0 {
			t.Fatalf("run = %+v, %v", rep, err)
		}
	}
	asked := 0
	for _, r := range e.demo.Graph.Requests() {
		if strings.Contains(r.Query, "signInActivity") {
			asked++
		}
	}
	if asked != 1 {
		t.Fatalf("sign-in activity asked %d times in two runs, want once", asked)
	}
	for _, user := range []string{graphemu.StillUsableUserID, graphemu.PIMGroupMemberUserID} {
		if p := e.watchOf(t, user); !p.SignedIn.IsZero() || !strings.Contains(p.SignIn, "could not be read") || !strings.Contains(p.SignIn, "Entra ID P1") {
			t.Errorf("%s's sign-in = %v %q; want unknown, naming the licence", p.TargetName, p.SignedIn, p.SignIn)
		}
	}
}
