package issuance_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/approval"
	"github.com/tapportal/portal/internal/fake"
	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/portal"
)

// pastLock is later than an approval in flight holds the target's lock
// (the default lock TTL is two minutes), and than the settle window.
const pastLock = 3 * time.Minute

// failingSteps is the world's history, whose Record fails for the
// actions in fail.
type failingSteps struct {
	portal.History
	fail map[portal.Action]bool
}

func (h failingSteps) Record(ctx context.Context, e portal.Event) (portal.Event, error) {
	if h.fail[e.Action] {
		return portal.Event{}, &portal.Error{Code: portal.EUnavailable, Message: "The database did not answer."}
	}
	return h.History.Record(ctx, e)
}

// failingApprovals is the world's store of requests, whose marks of an
// issued request, or links to a decision's record, fail when set.
type failingApprovals struct {
	portal.Approvals
	failIssued, failLink bool
}

func (a failingApprovals) MarkApprovalIssued(ctx context.Context, id string, eventID int64, tapID string, sealed []byte, now time.Time) error {
	if a.failIssued {
		return &portal.Error{Code: portal.EUnavailable, Message: "The database did not answer."}
	}
	return a.Approvals.MarkApprovalIssued(ctx, id, eventID, tapID, sealed, now)
}

func (a failingApprovals) SetDecisionEvent(ctx context.Context, id string, eventID int64) error {
	if a.failLink {
		return &portal.Error{Code: portal.EUnavailable, Message: "The database did not answer."}
	}
	return a.Approvals.SetDecisionEvent(ctx, id, eventID)
}

// with rebuilds the world's service on history and store; nil keeps the
// world's own.
func (w *approvalWorld) with(history portal.History, store portal.Approvals) {
	if history == nil {
		history = w.st
	}
	if store == nil {
		store = w.st
	}
	a := *w.opts.Approvals
	a.Store = store
	w.opts.Approvals = &a
	w.svc = issuance.New(w.dir, history, w.opts)
}

// onStoreClock moves the world's clock to the store's: the store stamps
// its records with the time they are appended, and the settler compares
// those stamps with the service's clock. The clock moves only when the
// test moves it.
func (w *approvalWorld) onStoreClock() {
	w.now = time.Now().UTC().Truncate(time.Second)
	w.op.AuthTime, w.sup.AuthTime = w.now, w.now
}

// approve approves r ten minutes after it was asked, with a fresh
// sign-in.
func (w *approvalWorld) approve(t *testing.T, r portal.ApprovalRequest) (issuance.ApprovalResult, error) {
	t.Helper()
	w.now = w.now.Add(10 * time.Minute)
	w.sup.AuthTime = w.now
	return w.svc.Approve(context.Background(), w.sup, r.ID, "")
}

// request reads r as its requester sees it.
func (w *approvalWorld) request(t *testing.T, r portal.ApprovalRequest) portal.ApprovalRequest {
	t.Helper()
	v, err := w.svc.Approval(context.Background(), w.op, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	return v.Request
}

// settleApprovals runs the approvals' upkeep, after the lock's time.
func (w *approvalWorld) settleApprovals(t *testing.T) int {
	t.Helper()
	w.now = w.now.Add(pastLock)
	n, err := w.svc.SettleApprovals(context.Background(), "replica-1")
	if err != nil {
		t.Fatalf("SettleApprovals = %d, %v", n, err)
	}
	return n
}

// TestApprovalOutcomeUnknown: an approved pass whose create Graph did not
// confirm is not guessed. The request stays approved, saying so, linked to
// the issue's intent; once the settler has settled the issue from Graph,
// the request follows it.
func TestApprovalOutcomeUnknown(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		// made is whether Graph made the pass after all.
		made      bool
		wantState portal.ApprovalState
		wantIssue portal.Outcome
		says      string
	}{
		{"no pass was made", false, portal.ApprovalFailed, portal.OutcomeFailed, "no pass from this request exists"},
		{"the pass was made", true, portal.ApprovalIssued, portal.OutcomeSuccess, "nobody holds it"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newApprovalWorld(t, nil)
			w.onStoreClock()
			r := w.ask(t)
			w.dir.Fail(fake.OpCreateTAP, errTimeout)
			res, err := w.approve(t, r)
			if err != nil || res.Request.State != portal.ApprovalApproved || !strings.Contains(res.Request.Detail, "did not say whether it made the pass") {
				t.Fatalf("Approve = %+v, %v; want no error, the request left approved, saying Graph did not answer", res.Request, err)
			}
			got := w.request(t, r)
			if got.State != portal.ApprovalApproved || got.State.Label() != "Approved: outcome being settled" || got.Detail != res.Request.Detail {
				t.Errorf("the request = %s (%q), %q; want it approved, its outcome being settled", got.State, got.State.Label(), got.Detail)
			}
			intent, err := w.st.Get(ctx, got.IssueEventID)
			if err != nil || intent.Action != portal.ActionIssue || intent.Outcome != portal.OutcomePending || intent.RequestID != portal.ApprovalRequestPrefix+r.ID {
				t.Fatalf("the request links record %d = %+v, %v; want the issue's intent", got.IssueEventID, intent, err)
			}
			want := []string{"approval_request:success", "approval_approve:success", "issue:pending", "issue:unknown"}
			if got := w.actions(t); !slices.Equal(got, want) {
				t.Errorf("history = %v, want %v", got, want)
			}
			// The upkeep does not guess either, while the issue is unknown.
			if n := w.settleApprovals(t); n != 0 || w.request(t, r).State != portal.ApprovalApproved {
				t.Errorf("SettleApprovals before the issue is settled = %d, request %s; want nothing done", n, w.request(t, r).State)
			}
			if tt.made {
				w.pass(intent.Time, 240)
			}
			if n, err := w.svc.Settle(ctx, "replica-1"); n != 1 || err != nil {
				t.Fatalf("Settle = %d, %v; want the issue settled", n, err)
			}
			if n := w.settleApprovals(t); n != 1 {
				t.Fatalf("SettleApprovals = %d, want the request settled", n)
			}
			got = w.request(t, r)
			issue, _ := w.st.Get(ctx, got.IssueEventID)
			if got.State != tt.wantState || issue.Outcome != tt.wantIssue || issue.Action != portal.ActionIssue || !strings.Contains(got.Detail, tt.says) ||
				got.PasscodeWaiting {
				t.Errorf("the request = %s %q from record %+v; want %s from the settled %s, saying %q, nothing waiting",
					got.State, got.Detail, issue, tt.wantState, tt.wantIssue, tt.says)
			}
			if tt.made && got.TAPID != "tap-old" {
				t.Errorf("the request names pass %q, want the one Graph made", got.TAPID)
			}
			if n := w.settleApprovals(t); n != 0 {
				t.Errorf("a second upkeep settled %d more, want none", n)
			}
		})
	}
}

// TestApprovalPasscodeLost: Graph made the approved pass but its reply,
// with the passcode, never arrived. The request is issued, naming the
// pass, and says nobody holds its passcode and what to do.
func TestApprovalPasscodeLost(t *testing.T) {
	w := newApprovalWorld(t, nil)
	w.onStoreClock()
	r := w.ask(t)
	w.dir.FailAfter(fake.OpCreateTAP, errTimeout)
	res, err := w.approve(t, r)
	if err != nil || res.Request.State != portal.ApprovalIssued || res.Issued == nil || res.Issued.ID == "" || res.Request.PasscodeWaiting {
		t.Fatalf("Approve = %+v, %v; want the request issued, naming the pass, nothing waiting", res.Request, err)
	}
	got := w.request(t, r)
	if got.State != portal.ApprovalIssued || got.TAPID != res.Issued.ID || !strings.Contains(got.Detail, "nobody holds it") || !strings.Contains(got.Detail, "revoke the pass") {
		t.Errorf("the request = %+v; want it issued, saying nobody holds the passcode and what to do", got)
	}
	if _, _, err := w.svc.TakeApproved(context.Background(), w.op, r.ID, w.private); portal.ErrorCode(err) != portal.EConflict {
		t.Errorf("TakeApproved = %v, want a conflict: nothing waits", err)
	}
}

// TestApprovalLeftApproved: the portal stopped between the approval and
// the issue. The upkeep leaves the request while an approval could still
// be in flight, then finds no issue in the history and says nothing was
// made.
func TestApprovalLeftApproved(t *testing.T) {
	ctx := context.Background()
	w := newApprovalWorld(t, nil)
	r := w.ask(t)
	w.now = w.now.Add(10 * time.Minute)
	if _, err := w.st.DecideApproval(ctx, r.ID, w.sup, true, "", w.now); err != nil {
		t.Fatal(err)
	}
	if n, err := w.svc.SettleApprovals(ctx, "replica-1"); n != 0 || err != nil || w.request(t, r).State != portal.ApprovalApproved {
		t.Fatalf("SettleApprovals right after the approval = %d, %v; want the request left to its approval", n, err)
	}
	// The decision went unrecorded too: it is recorded late.
	if n := w.settleApprovals(t); n != 2 {
		t.Fatalf("SettleApprovals = %d, want the request settled and its approval recorded", n)
	}
	if got := w.request(t, r); got.State != portal.ApprovalFailed || !strings.Contains(got.Detail, "nothing was made") {
		t.Errorf("the request = %s %q, want failed, saying nothing was made", got.State, got.Detail)
	}
	want := []string{"approval_request:success", "approval_approve:success"}
	if got := w.actions(t); !slices.Equal(got, want) {
		t.Errorf("history = %v, want %v", got, want)
	}
	if n := w.dir.Calls(fake.OpCreateTAP); n != 0 {
		t.Errorf("%d creates, want none", n)
	}
}

// TestApprovalKeys: a request is refused when its browser's key cannot
// be sealed to, before anything is kept; a browser with another key than
// the request's is refused before anything is taken.
func TestApprovalKeys(t *testing.T) {
	ctx := context.Background()
	for name, key := range map[string][]byte{"not a key": []byte("short"), "a low-order point": make([]byte, 32)} {
		t.Run(name, func(t *testing.T) {
			w := newApprovalWorld(t, nil)
			w.req.ApprovalKey = key
			_, err := w.svc.Issue(ctx, w.op, targetID, w.req)
			if portal.ErrorCode(err) != portal.EInvalid || errors.As(err, new(*issuance.AwaitingApproval)) {
				t.Fatalf("Issue = %v, want the key refused", err)
			}
			if rs, _ := w.st.ListApprovals(ctx, portal.ApprovalFilter{}); len(rs) != 0 {
				t.Errorf("%d requests kept, want none", len(rs))
			}
			if got := w.actions(t); len(got) != 0 {
				t.Errorf("history = %v, want nothing", got)
			}
		})
	}

	t.Run("another browser's key takes nothing", func(t *testing.T) {
		w := newApprovalWorld(t, nil)
		r := w.ask(t)
		if _, err := w.approve(t, r); err != nil {
			t.Fatal(err)
		}
		_, other, _ := approval.NewKeys()
		if _, _, err := w.svc.TakeApproved(ctx, w.op, r.ID, other); portal.ErrorCode(err) != portal.EDenied || !strings.Contains(portal.ErrorMessage(err), "nothing was taken") {
			t.Fatalf("TakeApproved with another key = %v, want it refused, nothing taken", err)
		}
		if _, code, err := w.svc.TakeApproved(ctx, w.op, r.ID, w.private); err != nil || code.Reveal() != "code-1" {
			t.Errorf("TakeApproved with the request's key = %q, %v; want the passcode, still there", code.Reveal(), err)
		}
	})
}

// TestApprovalUnsealable: a passcode that cannot be sealed to the
// requester's key is undeliverable: the pass was made, is revoked through
// the recorded path, and the request fails saying so.
func TestApprovalUnsealable(t *testing.T) {
	ctx := context.Background()
	w := newApprovalWorld(t, nil)
	r := w.ask(t)
	// Kept before keys were checked when a request is made.
	bad := r
	bad.ID, bad.RequestEventID, bad.PublicKey = approval.NewID(), 0, make([]byte, 32)
	if err := w.st.CreateApproval(ctx, bad); err != nil {
		t.Fatal(err)
	}
	res, err := w.approve(t, bad)
	if portal.ErrorCode(err) != portal.EUnavailable || res.Request.State != portal.ApprovalFailed ||
		!strings.Contains(res.Request.Detail, "could not be sealed to the requester's key") || !strings.Contains(res.Request.Detail, "revoked the pass") {
		t.Fatalf("Approve = %+v, %v; want the request failed, saying the passcode could not be sealed and the pass was revoked", res.Request, err)
	}
	if w.dir.Passes[targetID] != nil {
		t.Error("the pass nobody holds is still there")
	}
	want := []string{"approval_request:success", "approval_approve:success", "issue:pending", "issue:success", "revoke:pending", "revoke:success"}
	if got := w.actions(t); !slices.Equal(got, want) {
		t.Errorf("history = %v, want %v", got, want)
	}
}

// TestApprovalUnkept: the store cannot keep the sealed passcode of an
// approved pass. The passcode is not dropped in silence: the pass is
// revoked, and the approver told. A passcode mailed to the manager is
// where it belongs: the request is brought up to date from the history.
func TestApprovalUnkept(t *testing.T) {
	ctx := context.Background()
	t.Run("read out", func(t *testing.T) {
		w := newApprovalWorld(t, nil)
		r := w.ask(t)
		w.with(nil, failingApprovals{Approvals: w.st, failIssued: true})
		res, err := w.approve(t, r)
		if portal.ErrorCode(err) != portal.EUnavailable || !strings.Contains(portal.ErrorMessage(err), "could not be kept") ||
			!strings.Contains(portal.ErrorMessage(err), "The portal revoked the pass") || res.Request.State != portal.ApprovalFailed {
			t.Fatalf("Approve = %+v, %v; want an error saying the passcode could not be kept and the pass was revoked", res.Request, err)
		}
		if w.dir.Passes[targetID] != nil {
			t.Error("the pass nobody holds is still there")
		}
		want := []string{"approval_request:success", "approval_approve:success", "issue:pending", "issue:success", "revoke:pending", "revoke:success"}
		if got := w.actions(t); !slices.Equal(got, want) {
			t.Errorf("history = %v, want %v", got, want)
		}
	})
	t.Run("mailed to the manager", func(t *testing.T) {
		w := newApprovalWorld(t, nil)
		w.offer(portal.ChannelManager)
		w.with(nil, nil)
		r := w.ask(t)
		w.with(nil, failingApprovals{Approvals: w.st, failIssued: true})
		res, err := w.approve(t, r)
		if err != nil || res.Request.State != portal.ApprovalApproved || len(w.dir.Mails()) != 1 || w.dir.Passes[targetID] == nil {
			t.Fatalf("Approve = %+v, %v; want the pass mailed and standing, the request left approved", res.Request, err)
		}
		w.with(nil, nil)
		if n := w.settleApprovals(t); n != 1 {
			t.Fatalf("SettleApprovals = %d, want the request settled", n)
		}
		if got := w.request(t, r); got.State != portal.ApprovalIssued || got.TAPID == "" || !strings.Contains(got.Detail, "mailed to the manager") {
			t.Errorf("the request = %+v; want issued, saying the passcode was mailed", got)
		}
		if evs, _ := w.st.List(ctx, portal.EventFilter{Action: portal.ActionRevoke}); len(evs) != 0 {
			t.Errorf("%d revocations of a pass whose passcode reached the manager, want none", len(evs))
		}
	})
}

// TestApprovalSteps: every step of a request is in the history. A request
// the history cannot record is withdrawn; an approval it cannot record
// issues nothing; a rejection or expiry it cannot record stands, and is
// recorded later, once; a record made but never linked is linked, not
// made again.
func TestApprovalSteps(t *testing.T) {
	ctx := context.Background()
	t.Run("a request that cannot be recorded is withdrawn", func(t *testing.T) {
		w := newApprovalWorld(t, nil)
		w.with(failingSteps{History: w.st, fail: map[portal.Action]bool{portal.ActionApprovalRequest: true}}, nil)
		_, err := w.svc.Issue(ctx, w.op, targetID, w.req)
		if portal.ErrorCode(err) != portal.EUnavailable || errors.As(err, new(*issuance.AwaitingApproval)) {
			t.Fatalf("Issue = %v, want the request refused", err)
		}
		if rs, _ := w.st.ListApprovals(ctx, portal.ApprovalFilter{State: portal.ApprovalPending}); len(rs) != 0 {
			t.Errorf("%d requests wait without their record, want none", len(rs))
		}
	})

	for _, tt := range []struct {
		name   string
		action portal.Action
		act    func(w *approvalWorld, r portal.ApprovalRequest) error
		state  portal.ApprovalState
	}{
		{"an approval", portal.ActionApprovalApprove, func(w *approvalWorld, r portal.ApprovalRequest) error {
			_, err := w.approve(t, r)
			return err
		}, portal.ApprovalFailed},
		{"a rejection", portal.ActionApprovalReject, func(w *approvalWorld, r portal.ApprovalRequest) error {
			_, err := w.svc.Reject(ctx, w.sup, r.ID, "Ask the manager")
			return err
		}, portal.ApprovalRejected},
		{"an expiry", portal.ActionApprovalExpire, func(w *approvalWorld, r portal.ApprovalRequest) error {
			w.now = w.now.Add(5 * time.Hour)
			_, err := w.svc.ExpireApprovals(ctx)
			return err
		}, portal.ApprovalExpired},
		{"a withdrawal", portal.ActionApprovalCancel, func(w *approvalWorld, r portal.ApprovalRequest) error {
			_, err := w.svc.Cancel(ctx, w.op, r.ID)
			return err
		}, portal.ApprovalCancelled},
	} {
		t.Run(tt.name+" the history cannot record", func(t *testing.T) {
			w := newApprovalWorld(t, nil)
			r := w.ask(t)
			w.with(failingSteps{History: w.st, fail: map[portal.Action]bool{tt.action: true}}, nil)
			if err := tt.act(w, r); portal.ErrorCode(err) != portal.EUnavailable {
				t.Fatalf("%s = %v, want the history's failure reported", tt.name, err)
			}
			if got := w.request(t, r); got.State != tt.state {
				t.Fatalf("the request is %s, want %s", got.State, tt.state)
			}
			if n := w.dir.Calls(fake.OpCreateTAP); n != 0 {
				t.Errorf("%d creates, want none", n)
			}
			w.with(nil, nil)
			if n := w.settleApprovals(t); n != 1 {
				t.Fatalf("SettleApprovals = %d, want the step recorded", n)
			}
			evs, _ := w.st.List(ctx, portal.EventFilter{Action: tt.action})
			got := w.request(t, r)
			if len(evs) != 1 || evs[0].ID != got.DecisionEventID || evs[0].RequestID != portal.ApprovalRequestPrefix+r.ID || !strings.Contains(evs[0].Detail, "Recorded late") {
				t.Errorf("records = %+v, linked %d; want one, recorded late, linked to the request", evs, got.DecisionEventID)
			}
			if n := w.settleApprovals(t); n != 0 {
				t.Errorf("a second upkeep recorded %d more, want none", n)
			}
		})
	}

	t.Run("a record never linked is linked, not made again", func(t *testing.T) {
		w := newApprovalWorld(t, nil)
		r := w.ask(t)
		w.with(nil, failingApprovals{Approvals: w.st, failLink: true})
		if _, err := w.svc.Reject(ctx, w.sup, r.ID, "Ask the manager"); err != nil {
			t.Fatal(err)
		}
		w.with(nil, nil)
		if n := w.settleApprovals(t); n != 1 {
			t.Fatalf("SettleApprovals = %d, want the record linked", n)
		}
		evs, _ := w.st.List(ctx, portal.EventFilter{Action: portal.ActionApprovalReject})
		if len(evs) != 1 || w.request(t, r).DecisionEventID != evs[0].ID {
			t.Errorf("%d rejections recorded, linked %d; want the one linked", len(evs), w.request(t, r).DecisionEventID)
		}
	})
}
