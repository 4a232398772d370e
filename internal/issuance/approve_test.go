package issuance_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/approval"
	"github.com/tapportal/portal/internal/fake"
	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/internal/store"
	"github.com/tapportal/portal/internal/testutil"
)

// approvalWorld is a scenario with four-eyes approval on: passes over two
// hours wait for a supervisor. The requests and the history live in a
// real store; the tenant is in memory.
type approvalWorld struct {
	*scenario
	st      *store.Store
	svc     *issuance.Service
	now     time.Time
	private []byte
	sup     portal.Operator
}

func newApprovalWorld(t *testing.T, setup func(*scenario)) *approvalWorld {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "a.db"), store.Options{AuditKeys: testutil.AuditKeys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := &approvalWorld{scenario: newScenario(), st: st, now: fixedNow,
		sup: portal.Operator{ID: "0a000000-0000-4000-8000-000000000009", Name: "Marcus Oyelaran", Supervisor: true, AuthTime: fixedNow}}
	w.dir.PortalStaff.Holders = append(w.dir.PortalStaff.Holders, portal.StaffHolder{PrincipalID: w.sup.ID, PrincipalName: w.sup.Name, AppRoleID: appRoleSupervisor})
	w.offer(portal.ChannelRead)
	if setup != nil {
		setup(w.scenario)
	}
	clock := func() time.Time { return w.now }
	w.opts.Now, w.dir.Now = clock, clock
	w.opts.Approvals = &issuance.Approvals{Rules: approval.Rules{LifetimeOverMinutes: 120}, TTL: 4 * time.Hour, Store: st}
	w.svc = issuance.New(w.dir, st, w.opts)
	public, private, err := approval.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	w.private, w.req.ApprovalKey, w.req.LifetimeMinutes = private, public, 240
	return w
}

// ask issues a pass that needs approval and returns the request.
func (w *approvalWorld) ask(t *testing.T) portal.ApprovalRequest {
	t.Helper()
	_, err := w.svc.Issue(context.Background(), w.op, targetID, w.req)
	var wait *issuance.AwaitingApproval
	if !errors.As(err, &wait) {
		t.Fatalf("Issue = %v, want it to wait for approval", err)
	}
	return wait.Request
}

// actions are the history's records, as action:outcome.
func (w *approvalWorld) actions(t *testing.T) []string {
	t.Helper()
	evs, err := w.st.List(context.Background(), portal.EventFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(evs) - 1; i >= 0; i-- {
		out = append(out, string(evs[i].Action)+":"+string(evs[i].Outcome))
	}
	return out
}

// TestApprovalJourneys runs a request for a second pair of eyes to each of
// its ends, through the service, with every step in the history.
func TestApprovalJourneys(t *testing.T) {
	ctx := context.Background()

	t.Run("approved, the passcode reaches the requester once", func(t *testing.T) {
		w := newApprovalWorld(t, nil)
		r := w.ask(t)
		if r.State != portal.ApprovalPending || len(r.Reasons) != 1 || r.Reasons[0].Code != approval.CodeLifetime || r.Snapshot.DisplayName != "Tomás Herrera" {
			t.Fatalf("request = %+v, want it pending for its lifetime, with the user's snapshot", r)
		}
		if n := w.dir.Calls(fake.OpCreateTAP); n != 0 {
			t.Fatalf("a pass was made before the approval (%d creates)", n)
		}
		// Sent again, the same form finds the same request.
		_, err := w.svc.Issue(ctx, w.op, targetID, w.req)
		var again *issuance.AwaitingApproval
		if !errors.As(err, &again) || !again.Again || again.Request.ID != r.ID {
			t.Errorf("the request asked again = %v, want the same request, waiting", err)
		}
		w.now = w.now.Add(10 * time.Minute)
		w.sup.AuthTime = w.now
		res, err := w.svc.Approve(ctx, w.sup, r.ID, "Checked with the user's manager")
		if err != nil || res.Request.State != portal.ApprovalIssued || res.Issued == nil || !res.Request.PasscodeWaiting {
			t.Fatalf("Approve = %+v, %v; want issued, the passcode waiting", res, err)
		}
		if _, _, err := w.svc.TakeApproved(ctx, w.sup, r.ID, w.private); portal.ErrorCode(err) != portal.EDenied {
			t.Errorf("the approver taking the passcode = %v, want denied", err)
		}
		got, code, err := w.svc.TakeApproved(ctx, w.op, r.ID, w.private)
		if err != nil || code.Reveal() != "code-1" || got.TAPID != res.Issued.ID {
			t.Fatalf("TakeApproved = %q, %v; want the passcode of the pass made", code.Reveal(), err)
		}
		if _, _, err := w.svc.TakeApproved(ctx, w.op, r.ID, w.private); portal.ErrorCode(err) != portal.EConflict {
			t.Errorf("taking it twice = %v, want a conflict", err)
		}
		want := []string{"approval_request:success", "approval_approve:success", "issue:pending", "issue:success"}
		if got := w.actions(t); !slices.Equal(got, want) {
			t.Errorf("history = %v, want %v", got, want)
		}
		evs, _ := w.st.List(ctx, portal.EventFilter{Action: portal.ActionIssue, Limit: 1})
		if evs[0].OperatorID != operatorID || evs[0].RequestID != portal.ApprovalRequestPrefix+r.ID || evs[0].LifetimeMinutes != 240 {
			t.Errorf("issue record = %+v, want the requester's pass, tied to the request", evs[0])
		}
	})

	t.Run("the requester cannot approve their own request", func(t *testing.T) {
		w := newApprovalWorld(t, func(s *scenario) { s.op.Supervisor = true })
		r := w.ask(t)
		if _, err := w.svc.Approve(ctx, w.op, r.ID, ""); !errors.Is(err, issuance.ErrSelfApproval) {
			t.Fatalf("Approve by the requester = %v, want ErrSelfApproval", err)
		}
		if _, err := w.svc.Reject(ctx, w.op, r.ID, "No"); !errors.Is(err, issuance.ErrSelfApproval) {
			t.Errorf("Reject by the requester = %v, want ErrSelfApproval", err)
		}
		evs, _ := w.st.List(ctx, portal.EventFilter{Outcome: portal.OutcomeRefused, Limit: 5})
		if len(evs) != 2 || evs[0].RefusalCode != issuance.RefuseSelfApproval || evs[0].OperatorID != operatorID {
			t.Errorf("refusals = %+v, want both attempts recorded as self_approval", evs)
		}
		if v, _ := w.svc.Approval(ctx, w.sup, r.ID); v.State != portal.ApprovalPending || w.dir.Calls(fake.OpCreateTAP) != 0 {
			t.Errorf("after the attempts the request is %s with %d creates, want pending and none", v.State, w.dir.Calls(fake.OpCreateTAP))
		}
	})

	t.Run("an operator cannot decide, and an old sign-in must be renewed", func(t *testing.T) {
		w := newApprovalWorld(t, nil)
		r := w.ask(t)
		other := portal.Operator{ID: "0a000000-0000-4000-8000-000000000008", Name: "Tomás Ferreira", AuthTime: w.now}
		if _, err := w.svc.Approve(ctx, other, r.ID, ""); portal.ErrorCode(err) != portal.ENotFound {
			t.Errorf("an operator approving another's request = %v, want not found", err)
		}
		w.now = w.now.Add(time.Hour)
		if _, err := w.svc.Approve(ctx, w.sup, r.ID, ""); !errors.Is(err, issuance.ErrStaleSignIn) {
			t.Errorf("an approval an hour after sign-in = %v, want ErrStaleSignIn", err)
		}
		if v, _ := w.svc.Approval(ctx, w.sup, r.ID); v.State != portal.ApprovalPending {
			t.Errorf("the request is %s, want still pending", v.State)
		}
	})

	t.Run("rejected", func(t *testing.T) {
		w := newApprovalWorld(t, nil)
		r := w.ask(t)
		if _, err := w.svc.Reject(ctx, w.sup, r.ID, ""); !errors.As(err, new(issuance.FieldErrors)) {
			t.Errorf("a rejection without a note = %v, want the note asked for", err)
		}
		d, err := w.svc.Reject(ctx, w.sup, r.ID, "Ask the user's manager to request it")
		if err != nil || d.State != portal.ApprovalRejected || d.DeciderID != w.sup.ID {
			t.Fatalf("Reject = %+v, %v", d, err)
		}
		if _, err := w.svc.Approve(ctx, w.sup, r.ID, ""); portal.ErrorCode(err) != portal.EConflict {
			t.Errorf("approving a rejected request = %v, want a conflict", err)
		}
		if got, want := w.actions(t), []string{"approval_request:success", "approval_reject:success"}; !slices.Equal(got, want) {
			t.Errorf("history = %v, want %v", got, want)
		}
	})

	t.Run("expired", func(t *testing.T) {
		w := newApprovalWorld(t, nil)
		r := w.ask(t)
		w.now = w.now.Add(4*time.Hour + time.Second)
		w.sup.AuthTime = w.now
		if n, err := w.svc.ExpireApprovals(ctx); n != 1 || err != nil {
			t.Fatalf("ExpireApprovals = %d, %v; want the request expired", n, err)
		}
		if _, err := w.svc.Approve(ctx, w.sup, r.ID, ""); portal.ErrorCode(err) != portal.EConflict {
			t.Errorf("approving an expired request = %v, want a conflict", err)
		}
		if got, want := w.actions(t), []string{"approval_request:success", "approval_expire:success"}; !slices.Equal(got, want) {
			t.Errorf("history = %v, want %v", got, want)
		}
	})

	t.Run("cancelled by the requester", func(t *testing.T) {
		w := newApprovalWorld(t, nil)
		r := w.ask(t)
		if _, err := w.svc.Cancel(ctx, w.sup, r.ID); portal.ErrorCode(err) != portal.EDenied {
			t.Errorf("a supervisor cancelling another's request = %v, want denied", err)
		}
		if c, err := w.svc.Cancel(ctx, w.op, r.ID); err != nil || c.State != portal.ApprovalCancelled {
			t.Fatalf("Cancel = %+v, %v", c, err)
		}
	})

	t.Run("what changed since: the guarded path refuses", func(t *testing.T) {
		w := newApprovalWorld(t, nil)
		r := w.ask(t)
		w.role(roleGA, "Global Administrator")
		v, err := w.svc.Approval(ctx, w.sup, r.ID)
		if err != nil || v.Now == nil || v.NowVerdict.Eligible() || !slices.ContainsFunc(v.Changes, func(c string) bool { return strings.Contains(c, "Global Administrator") }) {
			t.Fatalf("Approval = %+v, %v; want the new role among the changes, and the verdict now a refusal", v, err)
		}
		res, err := w.svc.Approve(ctx, w.sup, r.ID, "")
		if portal.ErrorCode(err) != portal.EPolicy || res.Request.State != portal.ApprovalFailed || w.dir.Calls(fake.OpCreateTAP) != 0 {
			t.Fatalf("Approve = %+v, %v; want the issue refused, the request failed, no pass", res.Request, err)
		}
		got, _ := w.svc.Approval(ctx, w.sup, r.ID)
		if got.State != portal.ApprovalFailed || !strings.Contains(got.Request.Detail, "Global Administrator") {
			t.Errorf("the request after = %+v, want failed, saying why", got.Request)
		}
	})

	t.Run("mailed to the manager when approved", func(t *testing.T) {
		w := newApprovalWorld(t, nil)
		w.offer(portal.ChannelManager)
		w.svc = issuance.New(w.dir, w.st, w.opts)
		r := w.ask(t)
		if n := len(w.dir.Mails()); n != 0 {
			t.Fatalf("%d mails before the approval, want none", n)
		}
		res, err := w.svc.Approve(ctx, w.sup, r.ID, "")
		if err != nil || res.Request.PasscodeWaiting {
			t.Fatalf("Approve = %+v, %v; want issued, nothing waiting for the requester", res.Request, err)
		}
		if m := w.dir.Mails(); len(m) != 1 || !strings.Contains(m[0].Text.Reveal(), "code-1") {
			t.Errorf("mails = %v, want the passcode mailed to the manager", m)
		}
	})
}
