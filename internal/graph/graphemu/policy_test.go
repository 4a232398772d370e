package graphemu

import (
	"encoding/json"
	"testing"
)

const policyPath = "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/"

func TestPolicy(t *testing.T) {
	e := newDirEnv(t)
	for _, id := range []string{"TemporaryAccessPass", "temporaryaccesspass", "TEMPORARYACCESSPASS"} {
		r := e.get(t, policyPath+id)
		wantStatus(t, r, 200)
		want := map[string]any{
			"@odata.type":              "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration",
			"id":                       "TemporaryAccessPass",
			"state":                    "enabled",
			"defaultLifetimeInMinutes": float64(60),
			"minimumLifetimeInMinutes": float64(60),
			"maximumLifetimeInMinutes": float64(480),
			"defaultLength":            float64(8),
			"isUsableOnce":             false,
		}
		for k, v := range want {
			if r.body[k] != v {
				t.Errorf("policy %s = %v, want %v", k, r.body[k], v)
			}
		}
		include, _ := json.Marshal(r.body["includeTargets"])
		exclude, _ := json.Marshal(r.body["excludeTargets"])
		if string(include) != `[{"id":"all_users","isRegistrationRequired":false,"targetType":"group"}]` {
			t.Errorf("includeTargets = %s", include)
		}
		if string(exclude) != `[{"id":"`+BreakGlassGroupID+`","targetType":"group"}]` {
			t.Errorf("excludeTargets = %s", exclude)
		}
	}

	e.Update(func(t *Tenant) {
		t.Policy.State = "disabled"
		t.Policy.IsUsableOnce = true
		t.Policy.ExcludeTargets = nil
	})
	r := e.get(t, policyPath+"TemporaryAccessPass")
	if r.body["state"] != "disabled" || r.body["isUsableOnce"] != true {
		t.Errorf("changed policy = %s", r.raw)
	}
	if list, ok := r.body["excludeTargets"].([]any); !ok || len(list) != 0 {
		t.Errorf("excludeTargets = %v, want []", r.body["excludeTargets"])
	}

	wantError(t, e.get(t, policyPath+"Fido2"), 404, "Request_ResourceNotFound", "Fido2")
	wantError(t, e.get(t, policyPath+"TemporaryAccessPass?$expand=x"), 400, "BadRequest", "$expand")
}

func TestEmptyTenant(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.View(func(tn *Tenant) {
		p := tn.Policy
		if len(tn.Users) != 0 || p.State != "enabled" || p.DefaultLifetimeInMinutes != 60 || p.MinimumLifetimeInMinutes != 60 ||
			p.MaximumLifetimeInMinutes != 480 || p.DefaultLength != 8 || p.IsUsableOnce ||
			len(p.IncludeTargets) != 1 || p.IncludeTargets[0].ID != "all_users" || tn.ID != DemoTenantID {
			t.Fatalf("empty tenant = %+v", tn)
		}
	})
}
