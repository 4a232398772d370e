package graph_test

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/portal"
)

// separately reads what Subject reads, one request each, as the portal
// did before its reads went into one batch.
func separately(t *testing.T, e *env, id string) portal.Subject {
	t.Helper()
	ctx := context.Background()
	var s portal.Subject
	var err error
	if s.User, err = e.client.User(ctx, id); err != nil {
		t.Fatal(err)
	}
	if s.TAP, err = e.client.CurrentTAP(ctx, id); err != nil {
		t.Fatal(err)
	}
	if s.Groups, err = e.client.Groups(ctx, id); err != nil {
		t.Fatal(err)
	}
	if s.Grants, err = e.client.RoleGrants(ctx, id); err != nil {
		t.Fatal(err)
	}
	if s.GroupGrants, err = e.client.GroupEligibilities(ctx, id); err != nil {
		t.Fatal(err)
	}
	if s.Methods, err = e.client.Methods(ctx, id); err != nil {
		t.Fatal(err)
	}
	return s
}

// trips counts the requests that reached Graph over a connection of their
// own (a batch once), tokens aside.
func trips(reqs []graphemu.RequestRecord) int {
	n := 0
	for _, r := range reqs {
		if !r.Batched && !strings.HasSuffix(r.Path, "/token") {
			n++
		}
	}
	return n
}

// TestSubjectMatchesSeparateReads reads every seeded user both ways, with
// pages of one item so that every listing in the batch runs on to next
// pages: the batch must see what the separate reads see, the pass taken
// from the sign-in methods included.
func TestSubjectMatchesSeparateReads(t *testing.T) {
	e := newEnvWith(t, graphemu.Options{Seed: true, MaxPageSize: 1}, nil)
	var ids []string
	e.emu.View(func(tn *graphemu.Tenant) {
		for _, u := range tn.Users {
			ids = append(ids, u.ID)
		}
	})
	passes, grants := 0, 0
	for _, id := range ids {
		got, err := e.client.Subject(context.Background(), id, true)
		if err != nil {
			t.Fatalf("Subject(%s) = %v", id, err)
		}
		want := separately(t, e, id)
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Subject(%s) differs from the separate reads (-want +got):\n%s", id, diff)
		}
		if got.TAP != nil {
			passes++
		}
		grants += len(got.Grants) + len(got.GroupGrants)
	}
	if passes == 0 || grants == 0 {
		t.Fatalf("%d users with a pass, %d grants: the seed no longer covers what this test compares", passes, grants)
	}
}

// TestSubjectWhenMethodsFail: the methods only inform. When they cannot be
// read, the pass is read from its own list (never guessed), and while they
// keep failing the pass's list travels in the same batch.
func TestSubjectWhenMethodsFail(t *testing.T) {
	e := newEnv(t, nil)
	withPass := e.find(t, "user with a pass", func(u *graphemu.User, _ *graphemu.Tenant) bool { return u.TAP != nil })
	want, err := e.client.CurrentTAP(context.Background(), withPass.ID)
	if err != nil || want == nil {
		t.Fatalf("CurrentTAP = %v, %v", want, err)
	}
	e.emu.Inject(graphemu.Fault{Path: "/v1.0/users/*/authentication/methods", Status: http.StatusForbidden})
	for i, wantTrips := range []int{2, 1} {
		e.emu.ResetRequests()
		s, err := e.client.Subject(context.Background(), withPass.ID, true)
		if err != nil {
			t.Fatalf("Subject = %v", err)
		}
		if s.MethodsErr == nil || s.Methods != nil {
			t.Errorf("read %d: methods %v, error %v; want the error", i+1, s.Methods, s.MethodsErr)
		}
		if !reflect.DeepEqual(s.TAP, want) {
			t.Errorf("read %d: pass %+v, want %+v", i+1, s.TAP, want)
		}
		if n := trips(e.emu.Requests()); n != wantTrips {
			t.Errorf("read %d: %d round trips to Graph, want %d", i+1, n, wantTrips)
		}
	}
}

// TestSubjectThrottledItem: Graph throttles one item of the batch. It is
// read again alone once the wait is over, marked as a retry; a wait
// longer than the call's budget is not waited out.
func TestSubjectThrottledItem(t *testing.T) {
	e := newEnv(t, nil)
	u := e.ordinary(t)
	groups := "/v1.0/users/" + u.ID + "/transitiveMemberOf/graph.group"
	remove := e.emu.Inject(graphemu.Fault{Path: groups, Status: http.StatusTooManyRequests, RetryAfter: time.Second, Times: 1})
	start := time.Now()
	s, err := e.client.Subject(context.Background(), u.ID, false)
	remove()
	if err != nil || s.User.ID != u.ID {
		t.Fatalf("Subject after one throttled item = %+v, %v", s.User, err)
	}
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("read again after %v, want after the second Graph asked for", waited)
	}
	var statuses []int
	retried := false
	for _, r := range e.emu.Requests() {
		if r.Path == groups {
			statuses = append(statuses, r.Status)
			retried = retried || !r.Batched && r.Header.Get("Retry-Attempt") != ""
		}
	}
	if !reflect.DeepEqual(statuses, []int{http.StatusTooManyRequests, http.StatusOK}) || !retried {
		t.Errorf("the groups were read with %v (retry marked: %v), want 429 in the batch, then 200 alone, marked", statuses, retried)
	}

	e.emu.Inject(graphemu.Fault{Path: groups, Status: http.StatusTooManyRequests, RetryAfter: time.Minute})
	e.emu.ResetRequests()
	_, err = e.client.Subject(context.Background(), u.ID, false)
	wantCode(t, err, portal.EThrottled)
	if n := len(e.emu.Requests()); n != 7 {
		// The batch and its six items: nothing read again.
		t.Errorf("%d requests, want the batch alone: a wait of a minute does not fit a 10 s budget", n)
	}
}

// TestGroupRoleGrantsThrottledItem: a group's roles are read in a batch
// too, and an item Graph throttles is read again alone, not failed.
func TestGroupRoleGrantsThrottledItem(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	groups, err := e.client.Groups(ctx, graphemu.GroupRoleAdminUserID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, g := range groups {
		if g.RoleAssignable {
			ids = append(ids, strings.ToLower(g.ID))
		}
	}
	want, err := e.client.GroupRoleGrants(ctx, ids)
	if err != nil || len(want) == 0 {
		t.Fatalf("GroupRoleGrants(%v) = %v, %v; want the group's roles", ids, want, err)
	}
	e.emu.Inject(graphemu.Fault{Path: "/v1.0/roleManagement/directory/roleAssignments", Status: http.StatusTooManyRequests, RetryAfter: time.Second, Times: 1})
	got, err := e.client.GroupRoleGrants(ctx, ids)
	if err != nil {
		t.Fatalf("GroupRoleGrants with one throttled item = %v", err)
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("GroupRoleGrants with one throttled item differs (-want +got):\n%s", diff)
	}
	throttled := 0
	for _, r := range e.emu.Requests() {
		if r.Batched && r.Status == http.StatusTooManyRequests {
			throttled++
		}
	}
	if throttled != 1 {
		t.Errorf("%d batch items were throttled, want 1: the test proved nothing", throttled)
	}
}

// TestSubjectRefusesMalformedReplies: a reply Graph should never send (a
// listing without its list, a user without an id) fails the read, in the
// batch and alone, so that no guardrail passes on a check that never
// ran. The sign-in methods only inform: theirs is kept as their error and
// the pass read from its own list.
func TestSubjectRefusesMalformedReplies(t *testing.T) {
	e := newEnv(t, nil)
	u := e.ordinary(t)
	e.emu.ResetRequests()
	if _, err := e.client.Subject(context.Background(), u.ID, true); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, r := range e.emu.Requests() {
		if r.Batched {
			paths = append(paths, r.Path)
		}
	}
	if len(paths) < 6 {
		t.Fatalf("the batch held %v, want the user, groups, roles, eligibilities, PIM for Groups and methods", paths)
	}
	for _, path := range paths {
		// Names are matched in case and may appear once: a reply Graph
		// would not send is refused rather than read leniently.
		bodies := []string{`null`, `{}`, `{"value":null}`, `{"@odata.context":"x","value":null}`,
			`{"ID":"` + u.ID + `","Value":[]}`, `{"value":[],"value":[]}`, `{"id":"` + u.ID + `","id":"` + u.ID + `"}`}
		for _, body := range bodies {
			if path == "/v1.0/users/"+u.ID && strings.HasPrefix(body, `{"`) && strings.Contains(body, "value") {
				continue // a user with a "value" property is still a user without an id: covered by {}
			}
			t.Run(path+" "+body, func(t *testing.T) {
				remove := e.emu.Inject(graphemu.Fault{Method: http.MethodGet, Path: path, Body: body})
				defer remove()
				s, err := e.client.Subject(context.Background(), u.ID, true)
				if strings.HasSuffix(path, "/authentication/methods") {
					if err != nil || s.MethodsErr == nil || s.Methods != nil {
						t.Fatalf("Subject = methods %v (error %v), %v; want the methods' error and the rest read", s.Methods, s.MethodsErr, err)
					}
					return
				}
				wantCode(t, err, portal.EInternal)
			})
		}
	}
}
