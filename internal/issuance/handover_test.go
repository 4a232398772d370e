package issuance_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tapportal/portal/internal/fake"
	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/portal"
)

// lockWatch is the scenario's mailer, noting for each recipient whether
// the target was locked when the mail went out.
type lockWatch struct {
	*fake.Directory
	hist   *fake.History
	mu     sync.Mutex
	locked map[string]bool
}

func (l *lockWatch) SendMail(ctx context.Context, from string, m portal.Mail) (string, error) {
	_, held := l.hist.Locked(targetID)
	l.mu.Lock()
	l.locked[m.To[0].Address] = held
	l.mu.Unlock()
	return l.Directory.SendMail(ctx, from, m)
}

// TestNoticesAfterTheLock: the passcode goes to the manager while the
// target is locked, as part of the issue; the notices go once the
// outcome is recorded and the target released, so that no mail server
// holds the user locked.
func TestNoticesAfterTheLock(t *testing.T) {
	s := newScenario()
	s.offer(portal.ChannelManager)
	s.target(func(u *portal.User) { u.Mail = "tomas@northwind.example" })
	watch := &lockWatch{Directory: s.dir, hist: s.hist, locked: map[string]bool{}}
	s.opts.Delivery.Mailer, s.opts.Delivery.NoticeUser, s.opts.Delivery.NoticeSecurity = watch, true, []string{"soc@northwind.example"}
	if _, err := issuance.New(s.dir, s.hist, s.opts).Issue(context.Background(), s.op, targetID, s.req); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"jose@northwind.example": true, "tomas@northwind.example": false, "soc@northwind.example": false}
	if diff := cmp.Diff(want, watch.locked); diff != "" {
		t.Errorf("target locked while mailing (-want +got):\n%s", diff)
	}
}

// TestSettleRevokesUnhanded: a pass the settler finds made for an intent
// whose passcode was to go by mail or link, which the portal never
// recorded handing over, is recorded as made and then revoked through the
// recorded path. A passcode to read out is left as before: the operator
// is told to revoke it.
func TestSettleRevokesUnhanded(t *testing.T) {
	ctx := context.Background()
	for _, c := range portal.Channels() {
		t.Run(string(c), func(t *testing.T) {
			s := newScenario()
			at := fixedNow.Add(-5 * time.Minute)
			intent, _ := s.hist.Record(ctx, portal.Event{Time: at, Action: portal.ActionIssue, Outcome: portal.OutcomePending,
				OperatorID: operatorID, OperatorName: "Priya Natarajan", TargetID: targetID, Channel: c, RequestID: "req-1"})
			s.pass(at, 60)
			if n, err := issuance.New(s.dir, s.hist, s.opts).Settle(ctx, "replica-1"); n != 1 || err != nil {
				t.Fatalf("Settle = %d, %v; want the issue settled", n, err)
			}
			added := s.hist.Events()[1:]
			settled := added[0]
			if settled.Action != portal.ActionIssue || settled.Outcome != portal.OutcomeSuccess || settled.IntentID != intent.ID || settled.TAPID != "tap-old" {
				t.Fatalf("settlement = %+v, want the pass recorded as made", settled)
			}
			if c == portal.ChannelRead {
				if len(added) != 1 || s.dir.Passes[targetID] == nil || !strings.Contains(settled.Detail, "shown only if the portal received it") {
					t.Errorf("records %+v, pass %v; want the pass left, as before", added, s.dir.Passes[targetID])
				}
				return
			}
			if !strings.Contains(settled.Detail, "never recorded handing it over") {
				t.Errorf("settlement detail = %q, want it to say the passcode was never handed over", settled.Detail)
			}
			var got []string
			for _, e := range added[1:] {
				got = append(got, string(e.Action)+":"+string(e.Outcome))
			}
			if want := []string{"revoke:pending", "revoke:success"}; !slices.Equal(got, want) {
				t.Fatalf("after the settlement: %v, want %v", got, want)
			}
			revoke := added[2]
			if revoke.TAPID != "tap-old" || revoke.IntentID != added[1].ID || revoke.OperatorID != operatorID || revoke.RequestID != "req-1" {
				t.Errorf("revocation = %+v, want pass tap-old revoked for the intent's operator and request", revoke)
			}
			if s.dir.Passes[targetID] != nil || s.dir.Calls(fake.OpDeleteTAP) != 1 {
				t.Errorf("pass %v after %d deletes, want it gone", s.dir.Passes[targetID], s.dir.Calls(fake.OpDeleteTAP))
			}
			if _, held := s.hist.Locked(targetID); held {
				t.Error("the settler left the user locked")
			}
		})
	}
}
