package store_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/internal/store"
)

// enqueue queues an event and fails the test unless it was new.
func enqueue(t *testing.T, s *store.Store, eventID string, at time.Time) {
	t.Helper()
	if ok, err := s.Enqueue(t.Context(), eventID, "pass.issued", []byte(`{"id":"`+eventID+`"}`), at); err != nil || !ok {
		t.Fatalf("Enqueue(%s) = %v, %v; want queued", eventID, ok, err)
	}
}

// claimIDs claims for owner and returns the event ids claimed.
func claimIDs(t *testing.T, s *store.Store, owner string, now time.Time, limit int) []string {
	t.Helper()
	ds, err := s.ClaimDue(t.Context(), owner, now, time.Minute, limit)
	if err != nil {
		t.Fatalf("ClaimDue(%s) = %v", owner, err)
	}
	var ids []string
	for _, d := range ds {
		if d.LeaseOwner != owner || !d.LeaseUntil.Equal(now.Add(time.Minute)) {
			t.Errorf("ClaimDue(%s) gave %s leased to %s until %v, want %s until %v", owner, d.EventID, d.LeaseOwner, d.LeaseUntil, owner, now.Add(time.Minute))
		}
		ids = append(ids, d.EventID)
	}
	return ids
}

func find(t *testing.T, s *store.Store, eventID string) store.Delivery {
	t.Helper()
	d, err := s.FindDelivery(t.Context(), eventID)
	if err != nil {
		t.Fatalf("FindDelivery(%s) = %v", eventID, err)
	}
	return d
}

// TestWebhookDeliveries follows deliveries through the queue: queued
// once per event, leased to one sender at a time, retried when due, dead
// after the last attempt, requeued by a supervisor, delivered, pruned.
func TestWebhookDeliveries(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		ctx := t.Context()
		now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)

		enqueue(t, s, "evt-1", now)
		enqueue(t, s, "evt-2", now.Add(time.Second))
		if ok, err := s.Enqueue(ctx, "evt-1", "bulk.run", []byte(`{"other":true}`), now); err != nil || ok {
			t.Fatalf("Enqueue(evt-1) again = %v, %v; want false, nil", ok, err)
		}
		d := find(t, s, "evt-1")
		if d.Kind != "pass.issued" || string(d.Payload) != `{"id":"evt-1"}` || d.State != store.DeliveryPending || !d.Created.Equal(now) ||
			!d.Next.Equal(now) || d.Attempts != 0 {
			t.Fatalf("FindDelivery(evt-1) = %+v, want the first payload, pending, due at once", d)
		}
		if _, err := s.FindDelivery(ctx, "nope"); code(err) != portal.ENotFound {
			t.Fatalf("FindDelivery(nope) = %v, want not_found", err)
		}

		if got := claimIDs(t, s, "a", now, 10); strings.Join(got, ",") != "evt-1" {
			t.Fatalf("ClaimDue(a) at the first's time = %v, want [evt-1]: evt-2 is not due", got)
		}
		later := now.Add(2 * time.Second)
		if got := claimIDs(t, s, "b", later, 10); strings.Join(got, ",") != "evt-2" {
			t.Fatalf("ClaimDue(b) = %v, want [evt-2]: evt-1 is leased to a", got)
		}
		if got := claimIDs(t, s, "c", later, 10); len(got) != 0 {
			t.Fatalf("ClaimDue(c) = %v, want none: both are leased", got)
		}

		// A sender that is not the holder cannot record a failure.
		if st, err := s.MarkFailed(ctx, d.ID, store.Attempt{Owner: "b", At: later, Status: 500}, later, 3); err != nil || st != "" {
			t.Fatalf("MarkFailed(evt-1 by b) = %q, %v; want \"\", nil", st, err)
		}
		long := strings.Repeat("é", store.MaxDeliveryError)
		retry := later.Add(30 * time.Second)
		if st, err := s.MarkFailed(ctx, d.ID, store.Attempt{Owner: "a", At: later, Status: 503, Error: long}, retry, 3); err != nil ||
			st != store.DeliveryPending {
			t.Fatalf("MarkFailed(evt-1 by a) = %q, %v; want pending", st, err)
		}
		d = find(t, s, "evt-1")
		if d.Attempts != 1 || d.LastStatus != 503 || !d.Next.Equal(retry) || !d.LastAttempt.Equal(later) || d.LeaseOwner != "" ||
			len(d.LastError) > store.MaxDeliveryError || !strings.HasSuffix(d.LastError, "…") || !strings.HasPrefix(long, strings.TrimSuffix(d.LastError, "…")) ||
			d.LastError == "…" {
			t.Fatalf("evt-1 after a failure = %+v, want 1 attempt, 503, due at %v, the error cut at a rune boundary and ended with …", d, retry)
		}
		if got := claimIDs(t, s, "c", retry.Add(-time.Second), 10); len(got) != 0 {
			t.Fatalf("ClaimDue before the retry = %v, want none", got)
		}
		if got := claimIDs(t, s, "c", retry, 10); strings.Join(got, ",") != "evt-1" {
			t.Fatalf("ClaimDue at the retry = %v, want [evt-1]", got)
		}
		// The lease of a stopped sender lapses and another takes it over.
		lapsed := later.Add(time.Minute + time.Second)
		if got := claimIDs(t, s, "d", lapsed, 10); strings.Join(got, ",") != "evt-2" {
			t.Fatalf("ClaimDue after b's lease lapsed = %v, want [evt-2]", got)
		}

		for i, want := range []store.DeliveryState{store.DeliveryPending, store.DeliveryDead} {
			at := retry.Add(time.Duration(i) * time.Hour)
			if i > 0 {
				claimIDs(t, s, "c", at, 10)
			}
			st, err := s.MarkFailed(ctx, d.ID, store.Attempt{Owner: "c", At: at, Error: "connection refused"}, at.Add(time.Hour), 3)
			if err != nil || st != want {
				t.Fatalf("MarkFailed(evt-1, attempt %d of 3) = %q, %v; want %q", i+2, st, err, want)
			}
		}
		if got := claimIDs(t, s, "c", retry.Add(24*time.Hour), 10); strings.Join(got, ",") != "evt-2" {
			t.Fatalf("ClaimDue later = %v, want only evt-2: evt-1 is dead", got)
		}
		dead, err := s.ListDead(ctx, 0)
		if err != nil || len(dead) != 1 || dead[0].EventID != "evt-1" || dead[0].Attempts != 3 || dead[0].LastError != "connection refused" ||
			dead[0].LastStatus != 0 {
			t.Fatalf("ListDead = %+v, %v; want evt-1 after 3 attempts, with its error", dead, err)
		}
		c, err := s.DeliveryCounts(ctx)
		if want := (store.DeliveryCounts{Pending: 1, Dead: 1, OldestPending: now.Add(time.Second)}); err != nil || c != want {
			t.Fatalf("DeliveryCounts = %+v, %v; want %+v", c, err, want)
		}

		requeued := retry.Add(48 * time.Hour)
		if ok, err := s.Requeue(ctx, d.ID, requeued); err != nil || !ok {
			t.Fatalf("Requeue(evt-1) = %v, %v; want true", ok, err)
		}
		if ok, err := s.Requeue(ctx, d.ID, requeued); err != nil || ok {
			t.Fatalf("Requeue(evt-1) again = %v, %v; want false: it is no longer dead", ok, err)
		}
		if d = find(t, s, "evt-1"); d.State != store.DeliveryPending || d.Attempts != 0 || !d.Next.Equal(requeued) || d.LastError == "" {
			t.Fatalf("evt-1 requeued = %+v, want pending, attempts afresh, due at %v, its last error kept", d, requeued)
		}
		if got := claimIDs(t, s, "e", requeued, 10); len(got) != 2 {
			t.Fatalf("ClaimDue after the requeue = %v, want both", got)
		}
		if ok, err := s.MarkDelivered(ctx, d.ID, store.Attempt{Owner: "e", At: requeued, Status: 204}); err != nil || !ok {
			t.Fatalf("MarkDelivered(evt-1) = %v, %v; want true", ok, err)
		}
		if ok, err := s.MarkDelivered(ctx, d.ID, store.Attempt{Owner: "f", At: requeued, Status: 200}); err != nil || ok {
			t.Fatalf("MarkDelivered(evt-1) again = %v, %v; want false", ok, err)
		}
		if st, err := s.MarkFailed(ctx, d.ID, store.Attempt{Owner: "e", At: requeued}, requeued, 3); err != nil || st != "" {
			t.Fatalf("MarkFailed(evt-1) once delivered = %q, %v; want \"\"", st, err)
		}
		d = find(t, s, "evt-1")
		if d.State != store.DeliveryDelivered || d.Attempts != 1 || d.LastStatus != 204 || d.LastError != "" || !d.Delivered.Equal(requeued) {
			t.Fatalf("evt-1 delivered = %+v, want delivered at %v with 204", d, requeued)
		}

		if n, err := s.PruneDeliveries(ctx, requeued); err != nil || n != 0 {
			t.Fatalf("PruneDeliveries(at its delivery) = %d, %v; want 0", n, err)
		}
		if n, err := s.PruneDeliveries(ctx, requeued.Add(time.Second)); err != nil || n != 1 {
			t.Fatalf("PruneDeliveries(after it) = %d, %v; want 1: only the delivered one", n, err)
		}
		c, err = s.DeliveryCounts(ctx)
		if want := (store.DeliveryCounts{Pending: 1, OldestPending: now.Add(time.Second)}); err != nil || c != want {
			t.Fatalf("DeliveryCounts after pruning = %+v, %v; want %+v", c, err, want)
		}
	})
}

// TestDeliveryErrorKept keeps the error of a failed attempt fit to show:
// on one line, valid UTF-8, and cut, visibly, at MaxDeliveryError bytes.
func TestDeliveryErrorKept(t *testing.T) {
	s := open(t, backends[0])
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	for i, tc := range []struct{ name, error, want string }{
		{"plain", "the receiver answered 500", "the receiver answered 500"},
		{"on several lines", "line one\nline two\r\n\tthree", "line one line two   three"},
		{"invalid UTF-8", "bad \xff byte", "bad \uFFFD byte"},
		{"too long", strings.Repeat("x", store.MaxDeliveryError+1), strings.Repeat("x", store.MaxDeliveryError-len("…")) + "…"},
	} {
		id := fmt.Sprintf("evt-%d", i)
		enqueue(t, s, id, now)
		if got := claimIDs(t, s, "a", now, 1); len(got) != 1 || got[0] != id {
			t.Fatalf("ClaimDue = %v, want [%s]", got, id)
		}
		if _, err := s.MarkFailed(t.Context(), find(t, s, id).ID, store.Attempt{Owner: "a", At: now, Error: tc.error}, now.Add(time.Hour), 3); err != nil {
			t.Fatal(err)
		}
		if got := find(t, s, id).LastError; got != tc.want {
			t.Errorf("MarkFailed(%s): LastError = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestClaimDueLimit takes due deliveries oldest first, at most the
// limit.
func TestClaimDueLimit(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b)
		now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
		for i := range 5 {
			enqueue(t, s, fmt.Sprintf("evt-%d", i), now.Add(-time.Duration(i)*time.Second))
		}
		for _, tc := range []struct {
			limit int
			want  string
		}{
			{0, ""},
			{2, "evt-4,evt-3"},
			{10, "evt-2,evt-1,evt-0"},
			{10, ""},
		} {
			if got := claimIDs(t, s, "a", now, tc.limit); strings.Join(got, ",") != tc.want {
				t.Fatalf("ClaimDue(limit %d) = %v, want [%s]", tc.limit, got, tc.want)
			}
		}
	})
}

// TestClaimDueConcurrent has replicas on one database claim at the same
// moment until nothing is left: each delivery goes to exactly one.
func TestClaimDueConcurrent(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		u := b.url(t)
		replicas := []*store.Store{openURL(t, u), openURL(t, u), openURL(t, u)}
		now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
		const n = 60
		for i := range n {
			enqueue(t, replicas[0], fmt.Sprintf("evt-%02d", i), now)
		}
		var mu sync.Mutex
		claimedBy := map[string][]string{}
		var wg sync.WaitGroup
		for r, s := range replicas {
			for w := range 2 {
				owner := fmt.Sprintf("replica-%d-%d", r, w)
				wg.Go(func() {
					// Bounded: every round that claims takes at least one
					// of the n.
					for range n {
						ds, err := s.ClaimDue(t.Context(), owner, now, time.Minute, 3)
						if err != nil {
							t.Error(err)
							return
						}
						if len(ds) == 0 {
							return
						}
						mu.Lock()
						for _, d := range ds {
							claimedBy[d.EventID] = append(claimedBy[d.EventID], owner)
						}
						mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		if len(claimedBy) != n {
			t.Errorf("%d deliveries claimed, want all %d", len(claimedBy), n)
		}
		for id, owners := range claimedBy {
			if len(owners) != 1 {
				t.Errorf("%s claimed by %v, want one claimer", id, owners)
			}
		}
	})
}
