package graphemu

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// TestWriteLimit: an app's pass writes are limited per sliding window,
// alone and as items of a $batch, each refused item with its own 429 and
// Retry-After while the batch answers 200; a refused write changes
// nothing, and another app writes on.
func TestWriteLimit(t *testing.T) {
	e := newDirEnv(t)
	e.Update(func(tn *Tenant) { tn.WriteLimit, tn.WriteWindow = 3, time.Minute })
	create := func(n int) string { return "/v1.0/users/" + userID(n) + "/authentication/temporaryAccessPassMethods" }
	body := map[string]any{"lifetimeInMinutes": 60}
	wantStatus(t, e.do(t, "POST", create(30), body), 201)

	var requests []map[string]any
	for i, n := range []int{31, 32, 33, 34} {
		requests = append(requests, map[string]any{"id": strconv.Itoa(i + 1), "method": "POST", "url": create(n)[len("/v1.0"):],
			"headers": map[string]string{"Content-Type": "application/json"}, "body": body})
	}
	r := e.do(t, "POST", "/v1.0/$batch", map[string]any{"requests": requests})
	wantStatus(t, r, 200)
	created, throttled := 0, 0
	for _, item := range r.body["responses"].([]any) {
		it := item.(map[string]any)
		switch it["status"].(float64) {
		case 201:
			created++
		case 429:
			headers, _ := it["headers"].(map[string]any)
			if ra, _ := strconv.Atoi(fmt.Sprint(headers["Retry-After"])); ra < 1 || ra > 60 {
				t.Errorf("a throttled item's Retry-After = %v, want 1 to 60 s", headers["Retry-After"])
			}
			throttled++
		default:
			t.Errorf("item %v", it)
		}
	}
	if created != 2 || throttled != 2 {
		t.Fatalf("batch: %d created, %d throttled; want 2 and 2 (limit 3, one used)", created, throttled)
	}
	withPass := 0
	e.View(func(tn *Tenant) {
		for _, n := range []int{30, 31, 32, 33, 34} {
			if tn.LookupUser(userID(n)).TAP != nil {
				withPass++
			}
		}
	})
	if withPass != 3 {
		t.Fatalf("%d users hold a pass, want 3: a throttled write changes nothing", withPass)
	}
	one := e.do(t, "POST", create(35), body)
	wantError(t, one, 429, "TooManyRequests", "")
	if ra := one.header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("Retry-After = %q", ra)
	}
	// A delete is a write too.
	var tapID string
	e.View(func(tn *Tenant) { tapID = tn.LookupUser(userID(30)).TAP.ID })
	wantError(t, e.do(t, "DELETE", create(30)+"/"+tapID, nil), 429, "TooManyRequests", "")

	// The limit is per app.
	e.RegisterApp(App{ClientID: "other", Permissions: everyPermission})
	tok, err := e.IssueToken("other")
	if err != nil {
		t.Fatal(err)
	}
	e.token = tok
	wantStatus(t, e.do(t, "POST", create(35), body), 201)
}

// TestTakeSlot: the window slides, and the wait is until the oldest
// counted request leaves it.
func TestTakeSlot(t *testing.T) {
	hits := map[string][]time.Time{}
	start := time.Now()
	for i := range 3 {
		if d := takeSlot(hits, "a", start.Add(time.Duration(i)*time.Second), 3, 10*time.Second); d != 0 {
			t.Fatalf("request %d waited %v", i, d)
		}
	}
	if d := takeSlot(hits, "a", start.Add(4*time.Second), 3, 10*time.Second); d != 6*time.Second {
		t.Fatalf("the fourth waits %v, want 6s", d)
	}
	if d := takeSlot(hits, "b", start.Add(4*time.Second), 3, 10*time.Second); d != 0 {
		t.Fatalf("another key waited %v", d)
	}
	if d := takeSlot(hits, "a", start.Add(10*time.Second), 3, 10*time.Second); d != 0 {
		t.Fatalf("after the first left the window: waited %v", d)
	}
}
