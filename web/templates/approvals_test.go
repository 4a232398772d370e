package templates

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"

	"github.com/tapportal/portal/internal/portal"
)

func render(t *testing.T, c templ.Component) string {
	t.Helper()
	var b strings.Builder
	if err := c.Render(context.Background(), &b); err != nil {
		t.Fatalf("Render = %v", err)
	}
	return b.String()
}

// approvalFixture is a pending request whose requester, user, reason,
// ticket and note each hide a right-to-left override.
func approvalFixture(now time.Time) portal.ApprovalRequest {
	return portal.ApprovalRequest{
		ID: "req/1", State: portal.ApprovalPending, RequesterName: "Eve \u202enimda", TargetID: "u-1", TargetName: "Alex\u200bKim",
		TargetUPN: "alex@northwind.example", LifetimeMinutes: 60, OneTime: true, Reason: "Lost \u202ephone", Ticket: "INC\u202e1",
		Channel: "read", Reasons: []portal.ApprovalReason{{Code: "groups", Message: "A watched group."}},
		Created: now.Add(-time.Hour), Expires: now.Add(time.Hour), DecisionNote: "Note \u202eback", Detail: "Detail \u202eback",
		DeciderName: "Sam \u202eLee",
	}
}

// The approval pages show what people typed as it is, invisible
// characters made visible, as the history does; the refusals keep what
// to do about each; links to a request are escaped.
func TestApprovalPagesShowTextVisibly(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	r := approvalFixture(now)
	p := Page{Title: "Approvals", User: &Viewer{Name: "Sam", Supervisor: true, Approvals: true}}

	list := render(t, ApprovalsPage(p, ApprovalsView{Requests: []portal.ApprovalRequest{r}, Supervisor: true, Now: now}))
	page := render(t, ApprovalPage(p, ApprovalView{Request: r, State: portal.ApprovalPending, Now: now, CanDecide: true,
		NowRefusals: []RefusalView{{Message: "The user is a Global Administrator.", Help: "Ask a platform admin."}}, Errors: map[string]string{}}))
	for name, body := range map[string]string{"list": list, "page": page} {
		if strings.ContainsAny(body, "\u202e\u200b") {
			t.Errorf("the %s holds an invisible character as it is", name)
		}
		if !strings.Contains(body, "⟦U+202E⟧") {
			t.Errorf("the %s does not show the override", name)
		}
		if !strings.Contains(body, `href="/approvals/req%2F1`) && !strings.Contains(body, `action="/approvals/req%2F1`) {
			t.Errorf("the %s does not link to the request by its escaped id", name)
		}
	}
	if !strings.Contains(list, `class="table stack"`) {
		t.Error("the list's table does not stack on a phone")
	}
	if !strings.Contains(page, "What to do:</strong> Ask a platform admin.") {
		t.Error("the request's refusals lose what to do about them")
	}
	for _, want := range []string{"Sam ⟦U+202E⟧Lee", "Note ⟦U+202E⟧back", "Detail ⟦U+202E⟧back", "INC⟦U+202E⟧1"} {
		if !strings.Contains(page, want) {
			t.Errorf("the request's page lacks %q", want)
		}
	}

	bad := render(t, ApprovalsPage(p, ApprovalsView{Supervisor: true, Now: now, Error: "The state is wrong."}))
	if !strings.Contains(bad, "The state is wrong.") || strings.Contains(bad, `aria-current="true"`) || strings.Contains(bad, "approvals-heading") {
		t.Error("a refused filter shows a choice as current, or a list")
	}
}
