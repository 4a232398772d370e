package handlers_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/graph/graphemu"
)

func TestHealthAndReadiness(t *testing.T) {
	h := newHarness(t, nil)
	b := h.browser(t)
	if p := b.get("/healthz"); p.status != http.StatusOK || !strings.Contains(p.body, `"ok"`) {
		t.Fatalf("/healthz = %d %s", p.status, p.body)
	}
	var ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	p := b.get("/readyz")
	if err := json.Unmarshal([]byte(p.body), &ready); err != nil || p.status != http.StatusOK ||
		ready.Checks["database"] != "ok" || ready.Checks["graph_token"] != "ok" {
		t.Fatalf("/readyz = %d %s, want ready with each check named", p.status, p.body)
	}

	h.App.Store.Close() // the database goes away
	p = b.get("/readyz")
	if err := json.Unmarshal([]byte(p.body), &ready); err != nil || p.status != http.StatusServiceUnavailable ||
		ready.Checks["database"] != "failed" || ready.Status != "not ready" {
		t.Fatalf("/readyz with the database down = %d %s, want 503 naming the database", p.status, p.body)
	}
	if strings.Contains(p.body, "sqlite") || strings.Contains(p.body, h.DBPath) {
		t.Fatal("/readyz leaks database details")
	}
	if p := b.get("/healthz"); p.status != http.StatusOK {
		t.Fatalf("/healthz with the database down = %d, want 200: the process is alive", p.status)
	}
}

func TestMetricsAfterIssueAndRefusal(t *testing.T) {
	h := newHarness(t, nil)
	op := h.signedIn(t, "operator")
	issueAs(t, op, graphemu.TAPExpiredUserID, "metrics", nil)
	op.post("/users/"+graphemu.GlobalAdminUserID+"/issue", url.Values{"csrf": {csrfOf(t, op.get("/search"))},
		"start": {"now"}, "lifetime": {"60"}, "reason": {"metrics"}})

	p := h.browser(t).get("/metrics")
	if p.status != http.StatusOK {
		t.Fatalf("/metrics = %d", p.status)
	}
	for _, want := range []string{
		`tap_portal_tap_actions_total{action="issue",outcome="success",reason=""} 1`,
		`tap_portal_tap_actions_total{action="issue",outcome="refused",reason="privileged_role"} 1`,
		`tap_portal_http_requests_total{method="POST",route="/users/:id/issue",status="200"} 1`,
		`tap_portal_http_request_duration_seconds_bucket{method="GET",route="/users/:id/issue",le=`,
		`tap_portal_graph_requests_total{operation="tap_post",status="201"} 1`,
		`tap_portal_graph_requests_total{operation="token",status="200"}`,
		`tap_portal_graph_requests_total{operation="role_assignments",status="200"}`,
		`tap_portal_graph_request_duration_seconds_bucket{operation="batch",le=`,
		`tap_portal_store_operation_duration_seconds_count{operation="record_intent",result="ok"}`,
		`go_goroutines`,
	} {
		if !strings.Contains(p.body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestGraphRetriesAndThrottlingCounted(t *testing.T) {
	h := newHarness(t, nil)
	op := h.signedIn(t, "operator")
	remove := h.Demo.Graph.Inject(graphemu.Fault{Path: "/v1.0/users/" + graphemu.TAPExpiredUserID, Status: 429, RetryAfter: time.Second, Times: 1})
	defer remove()
	if p := op.get("/users/" + graphemu.TAPExpiredUserID); p.status != http.StatusOK {
		t.Fatalf("user page after one 429 = %d", p.status)
	}
	body := h.browser(t).get("/metrics").body
	for _, want := range []string{
		`tap_portal_graph_throttled_total{operation="user"} 1`,
		`tap_portal_graph_retries_total{operation="user"} 1`,
		`tap_portal_graph_requests_total{operation="user",status="429"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestReadinessNamesMissingPermissions probes the Graph app's permissions
// as `portal serve` does at start-up: with every permission, nothing is
// degraded; without the role read, /readyz stays ready but names the check
// that now refuses, and an issue is refused naming the permission.
func TestReadinessNamesMissingPermissions(t *testing.T) {
	var ready struct {
		Status   string              `json:"status"`
		Checks   map[string]string   `json:"checks"`
		Degraded []map[string]string `json:"degraded"`
	}
	h := newHarness(t, nil)
	b := h.browser(t)
	if p := b.get("/readyz"); json.Unmarshal([]byte(p.body), &ready) != nil || ready.Checks["graph_permissions"] != "unchecked" {
		t.Fatalf("/readyz before the probe = %s, want graph_permissions unchecked", p.body)
	}
	for _, c := range h.App.CheckPermissions(t.Context()) {
		if c.Status != "ok" {
			t.Errorf("with every permission, %s (%s) = %s: %s", c.Check, c.Permission, c.Status, c.Detail)
		}
	}
	if p := b.get("/readyz"); json.Unmarshal([]byte(p.body), &ready) != nil || ready.Checks["graph_permissions"] != "ok" || len(ready.Degraded) != 0 {
		t.Fatalf("/readyz = %s, want graph_permissions ok", p.body)
	}

	d := newHarness(t, nil)
	var perms []string
	for _, p := range graphemu.AllPermissions {
		if p != "RoleManagement.Read.Directory" {
			perms = append(perms, p)
		}
	}
	d.Demo.Graph.RegisterApp(graphemu.App{ClientID: graphemu.DemoGraphClientID, Certificate: d.appCert(t), Permissions: perms})
	d.App.CheckPermissions(t.Context())
	p := d.browser(t).get("/readyz")
	if err := json.Unmarshal([]byte(p.body), &ready); err != nil || p.status != http.StatusOK || ready.Checks["graph_permissions"] != "degraded" ||
		len(ready.Degraded) != 1 || ready.Degraded[0]["permission"] != "RoleManagement.Read.Directory" || ready.Degraded[0]["status"] != "missing" {
		t.Fatalf("/readyz without the role permission = %d %s, want ready, degraded, naming it", p.status, p.body)
	}
	if !strings.Contains(d.Logs.String(), `"msg":"Graph permission missing","check":"privileged roles"`) {
		t.Error("the missing permission is not logged")
	}
	op := d.signedIn(t, "operator")
	u := d.eligible(t, false)
	form := op.get("/users/" + u.ID + "/issue")
	if form.status != http.StatusBadGateway || !strings.Contains(form.body, "RoleManagement.Read.Directory") {
		t.Fatalf("issue form without the role permission = %d, want 502 naming it", form.status)
	}
}
