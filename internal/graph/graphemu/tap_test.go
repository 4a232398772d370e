package graphemu

import (
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var guidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func tapsPath(user string) string {
	return "/v1.0/users/" + url.PathEscape(user) + "/authentication/temporaryAccessPassMethods"
}

// lastAudit returns the newest audit entry.
func lastAudit(e *dirEnv) AuditEntry {
	var a AuditEntry
	e.View(func(t *Tenant) { a = *t.Audits[len(t.Audits)-1] })
	return a
}

func TestTAPCreateAndRead(t *testing.T) {
	e := newDirEnv(t)
	now := e.Clock().Now()
	r := e.do(t, "POST", tapsPath(NoRoleUserID), map[string]any{
		"@odata.type":       "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
		"lifetimeInMinutes": 120,
		"isUsableOnce":      true,
	})
	wantStatus(t, r, 201)
	code, _ := r.body["temporaryAccessPass"].(string)
	if len(code) != 8 {
		t.Fatalf("passcode %q, want the policy's default length 8", code)
	}
	id, _ := r.body["id"].(string)
	if !guidPattern.MatchString(id) {
		t.Fatalf("id = %q, want a GUID", id)
	}
	want := map[string]any{
		"@odata.type":           "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
		"createdDateTime":       "2026-03-02T09:30:00Z",
		"startDateTime":         "2026-03-02T09:30:00Z",
		"lifetimeInMinutes":     float64(120),
		"isUsableOnce":          true,
		"isUsable":              true,
		"methodUsabilityReason": "EnabledByPolicy",
	}
	for k, v := range want {
		if r.body[k] != v {
			t.Errorf("created pass %s = %v, want %v", k, r.body[k], v)
		}
	}

	list := e.get(t, tapsPath(NoRoleUserID))
	wantStatus(t, list, 200)
	if len(list.values()) != 1 || list.ids()[0] != id {
		t.Fatalf("list = %s, want the new pass", list.raw)
	}
	if v, ok := list.values()[0]["temporaryAccessPass"]; !ok || v != nil || strings.Contains(list.raw, code) {
		t.Fatalf("list = %s, want temporaryAccessPass null and no passcode", list.raw)
	}
	one := e.get(t, tapsPath(NoRoleUserID)+"/"+id)
	wantStatus(t, one, 200)
	if one.body["id"] != id || one.body["temporaryAccessPass"] != nil || one.body["isUsableOnce"] != true {
		t.Fatalf("get = %s", one.raw)
	}
	methods := e.get(t, "/v1.0/users/"+NoRoleUserID+"/authentication/methods")
	if !slices.Contains(methods.ids(), id) || strings.Contains(methods.raw, code) {
		t.Fatalf("methods = %s, want the pass without its passcode", methods.raw)
	}

	// The passcode is nowhere in the tenant.
	var dump []byte
	e.View(func(t *Tenant) { dump, _ = json.Marshal(t) })
	if strings.Contains(string(dump), code) {
		t.Fatal("the tenant keeps the passcode")
	}

	a := lastAudit(e)
	if a.ActivityDisplayName != "Admin registered security info" || a.Category != "UserManagement" ||
		a.LoggedByService != "Authentication Methods" || a.Result != "success" ||
		a.ResultReason != "Admin registered temporary access pass method for user" ||
		a.InitiatedByAppID != "test" || a.InitiatedByAppName != "Test App" ||
		a.TargetID != NoRoleUserID || a.TargetUPN != "dana.whitfield@"+DemoDomain || !a.ActivityDateTime.Equal(now) {
		t.Fatalf("audit entry = %+v", a)
	}
}

func TestTAPCreateDefaults(t *testing.T) {
	e := newDirEnv(t)
	r := e.do(t, "POST", tapsPath("dana.whitfield@"+DemoDomain), map[string]any{})
	wantStatus(t, r, 201)
	if r.body["lifetimeInMinutes"] != float64(60) || r.body["isUsableOnce"] != false || r.body["startDateTime"] != "2026-03-02T09:30:00Z" {
		t.Fatalf("pass with defaults = %s, want 60 minutes, reusable, starting now", r.raw)
	}
}

func TestTAPCreateRules(t *testing.T) {
	const lifetimeMsg = "Invalid LifetimeInMinutes specified. The valid range between 60 and 480."
	future := "2026-03-03T08:00:00Z"
	for _, tt := range []struct {
		name   string
		setup  func(*Tenant)
		user   string
		body   any
		status int
		msg    string // for errors, a part of the message
		check  func(t *testing.T, r reply)
	}{
		{name: "below the policy minimum", user: NoRoleUserID, body: map[string]any{"lifetimeInMinutes": 59}, status: 400, msg: lifetimeMsg},
		{name: "above the policy maximum", user: NoRoleUserID, body: map[string]any{"lifetimeInMinutes": 481}, status: 400, msg: lifetimeMsg},
		{name: "zero", user: NoRoleUserID, body: map[string]any{"lifetimeInMinutes": 0}, status: 400, msg: lifetimeMsg},
		{name: "negative", user: NoRoleUserID, body: map[string]any{"lifetimeInMinutes": -5}, status: 400, msg: lifetimeMsg},
		{name: "fractional", user: NoRoleUserID, body: `{"lifetimeInMinutes": 60.5}`, status: 400, msg: lifetimeMsg},
		{name: "a string", user: NoRoleUserID, body: `{"lifetimeInMinutes": "60"}`, status: 400, msg: lifetimeMsg},
		{name: "at the bounds", user: NoRoleUserID, body: map[string]any{"lifetimeInMinutes": 480}, status: 201},
		{name: "policy minimum below Graph's", setup: func(t *Tenant) { t.Policy.MinimumLifetimeInMinutes = 5 },
			user: NoRoleUserID, body: map[string]any{"lifetimeInMinutes": 9}, status: 400,
			msg: "Invalid LifetimeInMinutes specified. The valid range between 10 and 480."},
		{name: "null lifetime takes the default", user: NoRoleUserID, body: `{"lifetimeInMinutes": null}`, status: 201,
			check: func(t *testing.T, r reply) {
				if r.body["lifetimeInMinutes"] != float64(60) {
					t.Errorf("lifetime = %v, want 60", r.body["lifetimeInMinutes"])
				}
			}},
		{name: "unknown property", user: NoRoleUserID, body: map[string]any{"lifetime": 60}, status: 400,
			msg: "The property 'lifetime' does not exist on type 'microsoft.graph.temporaryAccessPassAuthenticationMethod'."},
		{name: "read-only property", user: NoRoleUserID, body: map[string]any{"isUsable": true}, status: 400, msg: "read-only"},
		{name: "passcode chosen by the client", user: NoRoleUserID, body: map[string]any{"temporaryAccessPass": "hunter22"}, status: 400, msg: "read-only"},
		{name: "not JSON", user: NoRoleUserID, body: "lifetime=60", status: 400, msg: "JSON object"},
		{name: "empty body", user: NoRoleUserID, body: "", status: 400, msg: "JSON object"},
		{name: "an array", user: NoRoleUserID, body: "[]", status: 400, msg: "JSON object"},
		{name: "two objects", user: NoRoleUserID, body: "{}{}", status: 400, msg: "JSON object"},
		{name: "bad start", user: NoRoleUserID, body: map[string]any{"startDateTime": "tomorrow"}, status: 400, msg: "Edm.DateTimeOffset"},
		{name: "start without offset", user: NoRoleUserID, body: map[string]any{"startDateTime": "2026-03-03T08:00:00"}, status: 400, msg: "Edm.DateTimeOffset"},
		{name: "bad isUsableOnce", user: NoRoleUserID, body: map[string]any{"isUsableOnce": "yes"}, status: 400, msg: "Edm.Boolean"},
		{name: "start ten minutes ago", user: NoRoleUserID, body: map[string]any{"startDateTime": "2026-03-02T09:20:00Z"}, status: 400, msg: "StartDateTime"},
		{name: "start four minutes ago", user: NoRoleUserID, body: map[string]any{"startDateTime": "2026-03-02T09:26:00Z"}, status: 201,
			check: func(t *testing.T, r reply) {
				if r.body["startDateTime"] != "2026-03-02T09:26:00Z" || r.body["isUsable"] != true {
					t.Errorf("pass = %s", r.raw)
				}
			}},
		{name: "start tomorrow", user: NoRoleUserID, body: map[string]any{"startDateTime": "2026-03-03T10:00:00+02:00"}, status: 201,
			check: func(t *testing.T, r reply) {
				if r.body["startDateTime"] != future || r.body["isUsable"] != false || r.body["methodUsabilityReason"] != "NotYetValid" {
					t.Errorf("pass = %s, want it to start at %s and not be valid yet", r.raw, future)
				}
			}},
		{name: "guest", user: GuestUserUPN, body: map[string]any{}, status: 400, msg: "Temporary Access Pass cannot be added to an external guest user."},
		{name: "break-glass account, excluded", user: BreakGlassUserID, body: map[string]any{}, status: 400,
			msg: "Converged UserCredentialPolicy does not allow creating or updating this authentication method. AuthMethodType [TemporaryAccessPass]."},
		{name: "policy disabled", setup: func(t *Tenant) { t.Policy.State = "disabled" }, user: NoRoleUserID, body: map[string]any{}, status: 400,
			msg: "Converged UserCredentialPolicy"},
		{name: "included group, direct member", setup: includeOnly(EligibleGroupID), user: NoRoleUserID, body: map[string]any{}, status: 201},
		{name: "included group, nested member", setup: includeOnly(EligibleGroupID), user: userID(18), body: map[string]any{}, status: 201},
		{name: "included group, not a member", setup: includeOnly(EligibleGroupID), user: OperatorUserID, body: map[string]any{}, status: 400,
			msg: "Converged UserCredentialPolicy"},
		{name: "excluded through a nested group", setup: func(t *Tenant) {
			t.Policy.ExcludeTargets = append(t.Policy.ExcludeTargets, PolicyTarget{TargetType: "group", ID: ExecutiveGroupID})
		}, user: NestedExecutiveUserID, body: map[string]any{}, status: 400, msg: "Converged UserCredentialPolicy"},
		{name: "forced one-time, reusable asked", setup: func(t *Tenant) { t.Policy.IsUsableOnce = true },
			user: NoRoleUserID, body: map[string]any{"isUsableOnce": false}, status: 400, msg: "IsUsableOnce"},
		{name: "forced one-time, nothing asked", setup: func(t *Tenant) { t.Policy.IsUsableOnce = true },
			user: NoRoleUserID, body: map[string]any{}, status: 201,
			check: func(t *testing.T, r reply) {
				if r.body["isUsableOnce"] != true {
					t.Errorf("isUsableOnce = %v, want true as the policy forces it", r.body["isUsableOnce"])
				}
			}},
		{name: "longer passcode", setup: func(t *Tenant) { t.Policy.DefaultLength = 24 }, user: NoRoleUserID, body: map[string]any{}, status: 201,
			check: func(t *testing.T, r reply) {
				if code, _ := r.body["temporaryAccessPass"].(string); len(code) != 24 {
					t.Errorf("passcode %q, want 24 characters", code)
				}
			}},
		{name: "disabled account, allowed by Graph", user: DisabledUserID, body: map[string]any{}, status: 201},
		{name: "global administrator, allowed to an app", user: GlobalAdminUserID, body: map[string]any{}, status: 201},
		{name: "unknown user", user: "nobody@" + DemoDomain, body: map[string]any{}, status: 404,
			msg: "Resource 'nobody@" + DemoDomain + "' does not exist"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newDirEnv(t)
			if tt.setup != nil {
				e.Update(tt.setup)
			}
			var before int
			e.View(func(t *Tenant) { before = len(t.Audits) })
			r := e.do(t, "POST", tapsPath(tt.user), tt.body)
			var after int
			e.View(func(t *Tenant) { after = len(t.Audits) })
			if tt.status != 201 {
				code := "badRequest"
				if tt.status == 404 {
					code = "Request_ResourceNotFound"
				}
				wantError(t, r, tt.status, code, tt.msg)
				if after != before {
					t.Fatal("a refused create was audited")
				}
				return
			}
			wantStatus(t, r, 201)
			if after != before+1 {
				t.Fatalf("audit entries %d -> %d, want one more", before, after)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func includeOnly(groupID string) func(*Tenant) {
	return func(t *Tenant) {
		t.Policy.IncludeTargets = []PolicyTarget{{TargetType: "group", ID: groupID}}
	}
}

func TestTAPReplace(t *testing.T) {
	e := newDirEnv(t)
	// The seeded usable pass is replaced by a new one.
	old := e.get(t, tapsPath(TAPUsableUserID)).ids()
	r := e.do(t, "POST", tapsPath(TAPUsableUserID), map[string]any{"lifetimeInMinutes": 90})
	wantStatus(t, r, 201)
	list := e.get(t, tapsPath(TAPUsableUserID))
	if ids := list.ids(); len(ids) != 1 || ids[0] != r.body["id"] || ids[0] == old[0] {
		t.Fatalf("after replacing %v: %v, want only the new pass %v", old, ids, r.body["id"])
	}
	wantError(t, e.get(t, tapsPath(TAPUsableUserID)+"/"+old[0]), 404, "Request_ResourceNotFound", old[0])
}

func TestTAPDelete(t *testing.T) {
	e := newDirEnv(t)
	id := "f6000000-0000-4000-8000-000000000019"
	wantError(t, e.do(t, "DELETE", tapsPath(TAPExpiredUserID)+"/00000000-0000-4000-8000-000000000000", nil), 404, "Request_ResourceNotFound", "")
	if len(e.get(t, tapsPath(TAPExpiredUserID)).ids()) != 1 {
		t.Fatal("deleting another id removed the pass")
	}
	r := e.do(t, "DELETE", tapsPath("ben.carter@"+DemoDomain)+"/"+id, nil)
	if r.status != 204 || r.raw != "" {
		t.Fatalf("DELETE = %d %q, want 204 and no body", r.status, r.raw)
	}
	a := lastAudit(e)
	if a.ActivityDisplayName != "Admin deleted security info" || a.ResultReason != "Admin deleted temporary access pass method for user" ||
		a.OperationType != "Delete" || a.TargetID != TAPExpiredUserID || a.InitiatedByAppID != "test" {
		t.Fatalf("audit entry = %+v", a)
	}
	if ids := e.get(t, tapsPath(TAPExpiredUserID)).ids(); len(ids) != 0 {
		t.Fatalf("passes after delete = %v", ids)
	}
	wantError(t, e.do(t, "DELETE", tapsPath(TAPExpiredUserID)+"/"+id, nil), 404, "Request_ResourceNotFound", id)
	wantError(t, e.get(t, tapsPath(TAPExpiredUserID)+"/"+id), 404, "Request_ResourceNotFound", id)
	wantError(t, e.do(t, "DELETE", tapsPath("nobody@"+DemoDomain)+"/"+id, nil), 404, "Request_ResourceNotFound", "nobody@")
	wantError(t, e.get(t, tapsPath("nobody@"+DemoDomain)), 404, "Request_ResourceNotFound", "nobody@")
}

// usability reads a user's pass and returns isUsable and the reason.
func usability(t *testing.T, e *dirEnv, user string) (bool, string) {
	t.Helper()
	r := e.get(t, tapsPath(user))
	wantStatus(t, r, 200)
	v := r.values()
	if len(v) != 1 {
		t.Fatalf("user %s has %d passes, want 1", user, len(v))
	}
	usable, _ := v[0]["isUsable"].(bool)
	reason, _ := v[0]["methodUsabilityReason"].(string)
	return usable, reason
}

func TestTAPUsability(t *testing.T) {
	e := newDirEnv(t)
	for _, tt := range []struct {
		user   string
		usable bool
		reason string
	}{
		{TAPUsableUserID, true, "EnabledByPolicy"},
		{TAPNotYetValidUserID, false, "NotYetValid"},
		{TAPExpiredUserID, false, "Expired"},
		{TAPUsedUserID, false, "OneTimeUsed"},
	} {
		if usable, reason := usability(t, e, tt.user); usable != tt.usable || reason != tt.reason {
			t.Errorf("seeded pass of %s = %v %s, want %v %s", tt.user, usable, reason, tt.usable, tt.reason)
		}
	}

	r := e.do(t, "POST", tapsPath(NoRoleUserID), map[string]any{"startDateTime": "2026-03-02T10:30:00Z", "lifetimeInMinutes": 60, "isUsableOnce": true})
	wantStatus(t, r, 201)
	clock := e.Clock()
	steps := []struct {
		advance time.Duration
		usable  bool
		reason  string
	}{
		{0, false, "NotYetValid"},
		{59 * time.Minute, false, "NotYetValid"},
		{time.Minute, true, "EnabledByPolicy"},
		{59 * time.Minute, true, "EnabledByPolicy"},
		{time.Minute, false, "Expired"},
	}
	for i, st := range steps {
		clock.Advance(st.advance)
		if usable, reason := usability(t, e, NoRoleUserID); usable != st.usable || reason != st.reason {
			t.Fatalf("step %d at %s: %v %s, want %v %s", i, clock.Now().Format(time.RFC3339), usable, reason, st.usable, st.reason)
		}
	}

	// Policy changes show at once.
	clock.Freeze(time.Date(2026, 3, 2, 9, 40, 0, 0, time.UTC))
	e.Update(func(t *Tenant) { t.Policy.State = "disabled" })
	if usable, reason := usability(t, e, TAPUsableUserID); usable || reason != "DisabledByPolicy" {
		t.Errorf("with the policy disabled: %v %s, want DisabledByPolicy", usable, reason)
	}
	e.Update(func(t *Tenant) {
		t.Policy.State = "enabled"
		t.Policy.ExcludeTargets = append(t.Policy.ExcludeTargets, PolicyTarget{TargetType: "group", ID: NewStartersGroupID})
	})
	if usable, reason := usability(t, e, TAPUsableUserID); usable || reason != "DisabledByPolicy" {
		t.Errorf("with the user excluded: %v %s, want DisabledByPolicy", usable, reason)
	}
}

func TestMarkTAPUsed(t *testing.T) {
	e := newDirEnv(t)
	r := e.do(t, "POST", tapsPath(NoRoleUserID), map[string]any{"isUsableOnce": true})
	wantStatus(t, r, 201)
	if err := e.MarkTAPUsed(NoRoleUserID); err != nil {
		t.Fatalf("MarkTAPUsed: %v", err)
	}
	if usable, reason := usability(t, e, NoRoleUserID); usable || reason != "OneTimeUsed" {
		t.Fatalf("after sign-in: %v %s, want OneTimeUsed", usable, reason)
	}
	for _, tt := range []struct{ user, want string }{
		{NoRoleUserID, "OneTimeUsed"},
		{"nobody", "no user"},
		{OperatorUserID, "no Temporary Access Pass"},
		{TAPUsableUserID, "reusable"},
		{TAPNotYetValidUserID, "NotYetValid"},
		{TAPUsedUserID, "OneTimeUsed"},
	} {
		if err := e.MarkTAPUsed(tt.user); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("MarkTAPUsed(%s) = %v, want an error mentioning %q", tt.user, err, tt.want)
		}
	}
}

func TestPasscode(t *testing.T) {
	seen := map[string]bool{}
	chars := map[rune]bool{}
	for range 1000 {
		code, err := passcode(8)
		if err != nil {
			t.Fatal(err)
		}
		if len(code) != 8 || seen[code] {
			t.Fatalf("passcode %q: wrong length or repeated", code)
		}
		seen[code] = true
		for _, class := range []string{passUpper, passLower, passDigits, passSymbols} {
			if !strings.ContainsAny(code, class) {
				t.Fatalf("passcode %q lacks one of %q", code, class)
			}
		}
		for _, r := range code {
			chars[r] = true
		}
	}
	// Like Entra's, the alphabet keeps look-alikes and symbols: over
	// 8,000 draws from 94 characters each one turns up.
	for _, r := range passUpper + passLower + passDigits + passSymbols {
		if !chars[r] {
			t.Errorf("no passcode held %q", r)
		}
	}
	if len(chars) != 94 {
		t.Errorf("passcodes used %d characters, want the 94 printable ASCII letters, digits and symbols", len(chars))
	}
	if _, err := passcode(3); err == nil {
		t.Fatal("passcode(3) succeeded, want an error")
	}
}

func TestListMethods(t *testing.T) {
	e := newDirEnv(t)
	// The properties each method type carries.
	props := map[string][]string{
		MethodPassword:      {"createdDateTime", "password"},
		MethodPhone:         {"phoneNumber", "phoneType", "smsSignInState"},
		MethodEmail:         {"emailAddress"},
		MethodFido2:         {"aaGuid", "attestationCertificates", "attestationLevel", "createdDateTime", "displayName", "model"},
		MethodAuthenticator: {"createdDateTime", "deviceTag", "displayName", "phoneAppVersion"},
		MethodWindowsHello:  {"createdDateTime", "displayName", "keyStrength"},
		MethodSoftwareOath:  {"secretKey"},
		MethodPlatform:      {"createdDateTime", "displayName", "keyStrength", "platform"},
		MethodTAP: {"createdDateTime", "isUsable", "isUsableOnce", "lifetimeInMinutes", "methodUsabilityReason",
			"startDateTime", "temporaryAccessPass"},
	}
	seen := map[string]bool{}
	for _, id := range seededUserIDs(e, nil) {
		r := e.get(t, "/v1.0/users/"+id+"/authentication/methods")
		wantStatus(t, r, 200)
		var registered int
		e.View(func(t *Tenant) {
			u := t.LookupUser(id)
			registered = len(u.Methods)
			if u.TAP != nil {
				registered++
			}
		})
		if len(r.values()) != registered+1 {
			t.Fatalf("user %s: %d methods, want %d and the password", id, len(r.values()), registered)
		}
		for i, m := range r.values() {
			typ, _ := m["@odata.type"].(string)
			name := strings.TrimPrefix(typ, "#microsoft.graph.")
			want, ok := props[name]
			if !ok {
				t.Fatalf("user %s: method type %q", id, typ)
			}
			seen[name] = true
			got := keys(m)
			wantKeys := append([]string{"@odata.type", "id"}, want...)
			slices.Sort(wantKeys)
			if !slices.Equal(got, wantKeys) {
				t.Errorf("%s properties = %v, want %v", name, got, wantKeys)
			}
			if i == 0 && (name != MethodPassword || m["id"] != PasswordMethodID || m["createdDateTime"] != nil) {
				t.Errorf("user %s: first method = %v, want the password with a null createdDateTime", id, m)
			}
		}
	}
	for name := range props {
		if !seen[name] {
			t.Errorf("no seeded user has a %s", name)
		}
	}
	wantError(t, e.get(t, "/v1.0/users/nobody@"+DemoDomain+"/authentication/methods"), 404, "Request_ResourceNotFound", "nobody@")
}
