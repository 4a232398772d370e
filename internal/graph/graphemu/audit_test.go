package graphemu

import (
	"slices"
	"strings"
	"testing"
	"time"
)

const auditsPath = "/v1.0/auditLogs/directoryAudits"

func TestAudits(t *testing.T) {
	e := newDirEnv(t)
	create := e.do(t, "POST", tapsPath(NoRoleUserID), map[string]any{})
	wantStatus(t, create, 201)

	r := e.get(t, auditsPath)
	wantStatus(t, r, 200)
	vals := r.values()
	var times []string
	for _, v := range vals {
		times = append(times, v["activityDateTime"].(string))
	}
	if !slices.IsSortedFunc(times, func(a, b string) int { return strings.Compare(b, a) }) {
		t.Fatalf("audit times %v, want newest first", times)
	}
	newest := vals[0]
	for _, k := range []string{"id", "category", "correlationId", "result", "resultReason", "activityDisplayName",
		"activityDateTime", "loggedByService", "operationType", "initiatedBy", "targetResources", "additionalDetails"} {
		if _, ok := newest[k]; !ok {
			t.Errorf("audit entry lacks %s", k)
		}
	}
	by := newest["initiatedBy"].(map[string]any)
	app, _ := by["app"].(map[string]any)
	if by["user"] != nil || app["appId"] != "test" || app["displayName"] != "Test App" || !guidPattern.MatchString(app["servicePrincipalId"].(string)) {
		t.Fatalf("initiatedBy = %v", by)
	}
	target := newest["targetResources"].([]any)[0].(map[string]any)
	if target["id"] != NoRoleUserID || target["type"] != "User" || target["userPrincipalName"] != "dana.whitfield@"+DemoDomain ||
		target["displayName"] != "Dana Whitfield" {
		t.Fatalf("target = %v", target)
	}
	if newest["activityDateTime"] != "2026-03-02T09:30:00Z" || newest["result"] != "success" || newest["operationType"] != "Add" {
		t.Fatalf("entry = %v", newest)
	}

	// A seeded entry made in the admin center names a user.
	var seededUser map[string]any
	for _, v := range vals {
		if u, ok := v["initiatedBy"].(map[string]any)["user"].(map[string]any); ok {
			seededUser = u
		}
	}
	if seededUser == nil || seededUser["userPrincipalName"] == "" || seededUser["id"] == "" {
		t.Fatalf("no entry initiated by a user: %s", r.raw)
	}
}

func TestAuditFilter(t *testing.T) {
	e := newDirEnv(t)
	for _, tt := range []struct {
		filter string
		want   int
	}{
		{"activityDateTime ge 2026-03-02T00:00:00Z", 8},
		{"activityDateTime ge 2026-03-02T00:00:00Z and activityDisplayName eq 'Admin registered security info'", 6},
		{"activityDateTime ge 2026-02-01T00:00:00Z and loggedByService eq 'Authentication Methods'", 10},
		{"activityDisplayName eq 'Admin deleted security info'", 1},
		{"initiatedBy/app/appId eq '" + scriptsAppID + "'", 3},
		{"initiatedBy/user/userPrincipalName eq 'jamal.washington@" + DemoDomain + "'", 4},
		{"activityDateTime gt 2026-03-02T09:30:00Z", 0},
	} {
		// These reads come faster than Graph's audit throttle allows.
		e.Update(func(t *Tenant) { t.auditReads = nil })
		r := e.get(t, auditsPath+q("$filter", tt.filter))
		wantStatus(t, r, 200)
		if n := len(r.values()); n != tt.want {
			t.Errorf("$filter=%s gave %d entries, want %d", tt.filter, n, tt.want)
		}
	}
	wantError(t, e.get(t, auditsPath+q("$filter", "activityDateTime ge '2026-01-01'")), 400, "BadRequest", "Invalid filter clause")
}

func TestAuditPagingAndOrder(t *testing.T) {
	e := newDirEnv(t)
	r := e.get(t, auditsPath+q("$top", "4", "$orderby", "activityDateTime asc"))
	wantStatus(t, r, 200)
	next, _ := r.body["@odata.nextLink"].(string)
	if len(r.values()) != 4 || next == "" {
		t.Fatalf("first page = %s", r.raw)
	}
	first := r.values()[0]["activityDateTime"].(string)
	r = e.get(t, next)
	wantStatus(t, r, 200)
	next, _ = r.body["@odata.nextLink"].(string)
	if len(r.values()) != 4 || next == "" {
		t.Fatalf("second page = %s", r.raw)
	}
	r = e.get(t, next)
	wantStatus(t, r, 200)
	if len(r.values()) != 3 || r.body["@odata.nextLink"] != nil {
		t.Fatalf("third page = %s", r.raw)
	}
	if last := r.values()[2]["activityDateTime"].(string); last <= first {
		t.Fatalf("ascending order: first %s, last %s", first, last)
	}
	wantError(t, e.get(t, auditsPath+q("$top", "0")), 400, "Request_BadRequest", "Invalid page size")
	wantError(t, e.get(t, auditsPath+q("$orderby", "category")), 400, "BadRequest", "activityDateTime")
}

// TestAuditDelayAndGaps: a pass's entry is listed only after the tenant's
// audit delay, and never for a user in its audit gaps.
func TestAuditDelayAndGaps(t *testing.T) {
	e := newDirEnv(t)
	e.Update(func(t *Tenant) { t.AuditDelay = 300 * time.Millisecond })
	count := func() int {
		e.Update(func(t *Tenant) { t.auditReads = nil })
		r := e.get(t, auditsPath+q("$filter", "activityDisplayName eq 'Admin registered security info'"))
		wantStatus(t, r, 200)
		return len(r.values())
	}
	before := count()
	for _, id := range []string{NoRoleUserID, AuditGapUserID} {
		wantStatus(t, e.do(t, "POST", tapsPath(id), map[string]any{}), 201)
	}
	if n := count(); n != before {
		t.Fatalf("right after the create the log lists %d entries, want the %d from before (the delay)", n, before)
	}
	time.Sleep(400 * time.Millisecond)
	if n := count(); n != before+1 {
		t.Fatalf("after the delay the log lists %d entries, want %d: one create listed, the gap user's never", n, before+1)
	}
}

func TestAuditThrottle(t *testing.T) {
	e := newDirEnv(t)
	for i := range auditReadLimit {
		wantStatus(t, e.get(t, auditsPath+q("$top", "1")), 200)
		_ = i
	}
	r := e.get(t, auditsPath)
	wantError(t, r, 429, "TooManyRequests", "")
	if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("Retry-After = %q", ra)
	}
	// The throttle is per app: another app reads on.
	e.RegisterApp(App{ClientID: "other", Permissions: []string{"AuditLog.Read.All"}})
	tok, err := e.IssueToken("other")
	if err != nil {
		t.Fatal(err)
	}
	e.token = tok
	wantStatus(t, e.get(t, auditsPath), 200)

	// The window slides in real time.
	var tn Tenant
	start := time.Now()
	for range auditReadLimit {
		if d := tn.throttleAuditRead("x", start); d != 0 {
			t.Fatalf("read throttled early: %s", d)
		}
	}
	if d := tn.throttleAuditRead("x", start.Add(time.Second)); d != 9*time.Second {
		t.Fatalf("wait = %s, want 9s", d)
	}
	if d := tn.throttleAuditRead("x", start.Add(auditReadWindow)); d != 0 {
		t.Fatalf("read after the window throttled: %s", d)
	}
}
