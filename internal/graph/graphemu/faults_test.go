package graphemu

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestActThenFail: a write served for real whose reply is a 503, a
// dropped connection or a reply too late, as a real Graph can do. The
// pass exists whatever the client saw.
func TestActThenFail(t *testing.T) {
	path := "/v1.0/users/" + NoRoleUserID + "/authentication/temporaryAccessPassMethods"
	for _, tt := range []struct {
		name  string
		fault Fault
	}{
		{"503 after acting", Fault{Method: "POST", Path: path, After: true, Status: 503, Times: 1}},
		{"dropped after acting", Fault{Method: "POST", Path: path, After: true, Drop: true, Times: 1}},
		{"late after acting", Fault{Method: "POST", Path: path, After: true, Latency: 3 * time.Second, Times: 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newDirEnv(t)
			e.Inject(tt.fault)
			if strings.HasPrefix(tt.name, "late") {
				e.client.Timeout = 500 * time.Millisecond
			}
			r, err := e.try(http.MethodPost, path, map[string]any{"lifetimeInMinutes": 60})
			switch {
			case tt.fault.Status != 0:
				if err != nil || r.status != 503 {
					t.Fatalf("reply = %v %v, want 503", r.status, err)
				}
			case err == nil:
				t.Fatalf("reply = %d, want no reply", r.status)
			}
			var has bool
			e.View(func(tn *Tenant) { has = tn.LookupUser(NoRoleUserID).TAP != nil })
			if !has {
				t.Fatal("the write did not happen")
			}
			var logged int
			for _, rec := range e.Requests() {
				if rec.Method == "POST" && rec.Path == path && rec.Status == 201 {
					logged++
				}
			}
			if logged != 1 {
				t.Errorf("request log holds %d served creates, want 1 (the status the handler produced)", logged)
			}
		})
	}
}

func TestRevokeTokens(t *testing.T) {
	e := newDirEnv(t)
	path := "/v1.0/users/" + NoRoleUserID
	wantStatus(t, e.get(t, path), 200)
	if n := e.RevokeTokens("test"); n != 1 {
		t.Fatalf("RevokeTokens = %d, want the one token", n)
	}
	wantError(t, e.get(t, path), 401, "InvalidAuthenticationToken", "revoked")
	tok, err := e.IssueToken("test")
	if err != nil {
		t.Fatal(err)
	}
	e.token = tok
	wantStatus(t, e.get(t, path), 200)
}

func TestReplicationDelay(t *testing.T) {
	e := newDirEnv(t)
	e.Update(func(tn *Tenant) { tn.ReplicationDelay = 300 * time.Millisecond })
	path := "/v1.0/users/" + NoRoleUserID + "/authentication/temporaryAccessPassMethods"
	created := e.do(t, http.MethodPost, path, map[string]any{"lifetimeInMinutes": 60})
	wantStatus(t, created, 201)
	if ids := e.get(t, path).ids(); len(ids) != 0 {
		t.Fatalf("a read just after the create lists %v, want the state before it", ids)
	}
	time.Sleep(350 * time.Millisecond)
	if ids := e.get(t, path).ids(); len(ids) != 1 || ids[0] != created.body["id"] {
		t.Fatalf("a read after the delay lists %v, want the new pass", ids)
	}
	// A delete that replicates: the pass is still listed, then gone, and
	// the write itself sees the real state at once (a second delete 404s).
	wantStatus(t, e.do(t, http.MethodDelete, path+"/"+created.body["id"].(string), nil), 204)
	if ids := e.get(t, path).ids(); len(ids) != 1 {
		t.Fatalf("a read just after the delete lists %v, want the pass still", ids)
	}
	wantError(t, e.do(t, http.MethodDelete, path+"/"+created.body["id"].(string), nil), 404, "Request_ResourceNotFound", "does not exist")
	time.Sleep(350 * time.Millisecond)
	if ids := e.get(t, path).ids(); len(ids) != 0 {
		t.Fatalf("a read after the delay lists %v, want none", ids)
	}
}

// try sends a JSON request and returns the reply's status, or the
// transport error when there was no reply.
func (e *dirEnv) try(method, target string, body any) (reply, error) {
	j, _ := json.Marshal(body)
	req, err := http.NewRequest(method, e.URL()+target, bytes.NewReader(j))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return reply{status: resp.StatusCode}, nil
}

// TestFaultReplies: a fault's status carries the error Graph gives with
// it, after acting as before; a fault's body replaces the reply with one
// Graph should never send.
func TestFaultReplies(t *testing.T) {
	e := newDirEnv(t)
	path := "/v1.0/users/" + NoRoleUserID + "/authentication/temporaryAccessPassMethods"
	e.Inject(Fault{Method: "POST", Path: path, After: true, Status: 429, RetryAfter: time.Second, Times: 1})
	r := e.do(t, http.MethodPost, path, map[string]any{"lifetimeInMinutes": 60})
	wantError(t, r, 429, "TooManyRequests", "Too many requests.")
	if r.header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After = %q, want 1", r.header.Get("Retry-After"))
	}

	groups := "/v1.0/users/" + NoRoleUserID + "/transitiveMemberOf/microsoft.graph.group"
	e.Inject(Fault{Method: "GET", Path: groups, Body: `{"@odata.context":"x"}`, Times: 1})
	r = e.get(t, groups)
	wantStatus(t, r, 200)
	if _, ok := r.body["value"]; ok || r.raw != `{"@odata.context":"x"}` {
		t.Errorf("reply = %s, want the fault's body", r.raw)
	}
}
