package graph_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/tapportal/portal/internal/demotest"
	"github.com/tapportal/portal/internal/graph"
	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/portal"
)

// ordinaries returns n seeded users the portal would give a pass to.
func (e *env) ordinaries(t *testing.T, n int) []string {
	t.Helper()
	var ids []string
	e.emu.View(func(tn *graphemu.Tenant) {
		for _, u := range tn.Users {
			if len(ids) < n && demotest.Eligible(tn, u, demotest.Rails{}, e.emu.Clock().Now()) && u.TAP == nil {
				ids = append(ids, u.ID)
			}
		}
	})
	if len(ids) < n {
		t.Fatalf("the tenant has %d ordinary users, want %d", len(ids), n)
	}
	return ids
}

func creates(ids []string) []portal.TAPCreate {
	out := make([]portal.TAPCreate, len(ids))
	for i, id := range ids {
		out[i] = portal.TAPCreate{Key: "row" + strconv.Itoa(i), UserID: id, Req: portal.NewTAP{LifetimeMinutes: 60, OneTime: i%2 == 0}}
	}
	return out
}

// TestCreateTAPs creates passes in one $batch through the SDK: each item
// answered by its key, a throttled item refused with its wait and nothing
// done, an item that failed with 500 unsure, and a lost batch unsure for
// every item.
func TestCreateTAPs(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	ids := e.ordinaries(t, 6)
	e.emu.ResetRequests()
	got, err := e.client.CreateTAPs(ctx, creates(ids[:3]))
	if err != nil || len(got) != 3 {
		t.Fatalf("CreateTAPs = %v, %v", got, err)
	}
	for i, c := range got {
		if c.Err != nil || c.Key != "row"+strconv.Itoa(i) || c.Issued.Passcode.Reveal() == "" || c.Issued.ID == "" || c.Issued.OneTime != (i%2 == 0) {
			t.Fatalf("item %d = %+v", i, c)
		}
	}
	posts, batched := 0, 0
	for _, r := range e.emu.Requests() {
		switch {
		case r.Path == "/v1.0/$batch":
			posts++
		case strings.HasPrefix(r.Path, "/v1.0/") && r.Batched:
			batched++
		case strings.HasPrefix(r.Path, "/v1.0/"):
			t.Errorf("a request outside the batch: %s %s", r.Method, r.Path)
		}
	}
	if posts != 1 || batched != 3 {
		t.Fatalf("%d batches of %d items, want one of 3", posts, batched)
	}

	// The write limit lets one more through.
	e.emu.Update(func(tn *graphemu.Tenant) { tn.WriteLimit = 4 })
	got, err = e.client.CreateTAPs(ctx, creates(ids[3:5]))
	if err != nil {
		t.Fatal(err)
	}
	var throttled *portal.Error
	for _, c := range got {
		if c.Err != nil {
			throttled = wantCode(t, c.Err, portal.EThrottled)
		}
	}
	if throttled == nil || throttled.Unsure || throttled.RetryAfter <= 0 {
		t.Fatalf("items = %+v; want one throttled, sure, with its wait", got)
	}
	held := 0
	e.emu.View(func(tn *graphemu.Tenant) {
		for _, id := range ids[3:5] {
			if tn.LookupUser(id).TAP != nil {
				held++
			}
		}
	})
	if held != 1 {
		t.Fatalf("%d of the two hold a pass, want 1", held)
	}
	e.emu.Update(func(tn *graphemu.Tenant) { tn.WriteLimit = 0 })

	remove := e.emu.Inject(graphemu.Fault{Path: "/v1.0/users/" + ids[5] + "/authentication/temporaryAccessPassMethods", Status: 500})
	got, _ = e.client.CreateTAPs(ctx, creates([]string{ids[0], ids[5]}))
	remove()
	if got[0].Err != nil || !portal.Unsure(got[1].Err) {
		t.Fatalf("items = %+v; want the first created, the failed one unsure", got)
	}
	remove = e.emu.Inject(graphemu.Fault{Path: "/v1.0/$batch", Status: 502})
	got, _ = e.client.CreateTAPs(ctx, creates(ids[:2]))
	remove()
	for _, c := range got {
		if !portal.Unsure(c.Err) {
			t.Fatalf("a lost batch's item = %+v, want unsure", c)
		}
	}

	_, err = e.client.CreateTAPs(ctx, creates(make([]string, graph.MaxBatch+1)))
	wantCode(t, err, portal.EInvalid)
	got, err = e.client.CreateTAPs(ctx, []portal.TAPCreate{{Key: "bad", UserID: "not an id"}})
	if err != nil || got[0].Err == nil {
		t.Fatalf("a bad id = %+v, %v; want its item refused before Graph", got, err)
	}
}
