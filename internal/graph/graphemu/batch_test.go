package graphemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// batchReply is the body of a $batch reply.
type batchReply struct {
	Responses []struct {
		ID      string            `json:"id"`
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	} `json:"responses"`
}

func decodeBatch(t *testing.T, b []byte) batchReply {
	t.Helper()
	var r batchReply
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("batch reply %q: %v", b, err)
	}
	return r
}

// postBatch sends a $batch with the test app's token.
func (ts *testServer) postBatch(t *testing.T, token string, payload any) (int, []byte) {
	t.Helper()
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	status, _, body := ts.do(t, "POST", "/v1.0/$batch", token, strings.NewReader(string(b)),
		http.Header{"Content-Type": {"application/json"}})
	return status, body
}

type item = map[string]any

func batchOf(items ...item) map[string]any { return map[string]any{"requests": items} }

func TestBatchTwenty(t *testing.T) {
	ts := newTestServer(t)
	var items []item
	for i := range maxBatchRequests {
		url := testRoot[len("/v1.0"):] + "/dir"
		if i%2 == 1 {
			url = strings.TrimPrefix(url, "/") // both spellings are relative to /v1.0
		}
		items = append(items, item{"id": fmt.Sprint(i + 1), "method": "GET", "url": url})
	}
	status, b := ts.postBatch(t, ts.token(t), batchOf(items...))
	if status != http.StatusOK {
		t.Fatalf("$batch of 20: status = %d, want 200; body %s", status, b)
	}
	r := decodeBatch(t, b)
	if len(r.Responses) != maxBatchRequests {
		t.Fatalf("got %d responses, want %d", len(r.Responses), maxBatchRequests)
	}
	for i, res := range r.Responses {
		if res.ID != fmt.Sprint(i+1) || res.Status != 200 || string(res.Body) != `{"ok":true}` {
			t.Errorf("response %d = %s %d %s, want %d 200 {\"ok\":true}", i, res.ID, res.Status, res.Body, i+1)
		}
		if ct := res.Headers["Content-Type"]; !strings.HasPrefix(ct, "application/json") {
			t.Errorf("response %s Content-Type = %q, want application/json", res.ID, ct)
		}
	}
}

func TestBatchRefused(t *testing.T) {
	ts := newTestServer(t)
	tok := ts.token(t)
	get := func(id string) item { return item{"id": id, "method": "GET", "url": "/graphemu-test/dir"} }
	var many []item
	for i := range maxBatchRequests + 1 {
		many = append(many, get(fmt.Sprint(i+1)))
	}

	tests := []struct {
		name    string
		payload any
		wantMsg string
	}{
		{"21 requests", batchOf(many...), "Number of requests exceeds the maximum of 20."},
		{"no requests", batchOf(), ""},
		{"not a batch", map[string]any{"value": []any{}}, "Invalid batch payload format."},
		{"missing id", batchOf(get("1"), item{"method": "GET", "url": "/graphemu-test/dir"}), ""},
		{"duplicate id", batchOf(get("1"), get("1")), ""},
		{"no method", batchOf(item{"id": "1", "url": "/graphemu-test/dir"}), ""},
		{"odd method", batchOf(item{"id": "1", "method": "TRACE", "url": "/graphemu-test/dir"}), ""},
		{"no url", batchOf(item{"id": "1", "method": "GET"}), ""},
		{"absolute url", batchOf(item{"id": "1", "method": "GET", "url": "https://graph.microsoft.com/v1.0/me"}), ""},
		{"nested batch", batchOf(item{"id": "1", "method": "POST", "url": "/$batch",
			"headers": map[string]string{"Content-Type": "application/json"}, "body": batchOf(get("a"))}), ""},
		{"body without content type", batchOf(item{"id": "1", "method": "POST", "url": "/graphemu-test/echo/x",
			"body": map[string]any{"a": 1}}), ""},
		{"unknown dependency", batchOf(get("1"), item{"id": "2", "method": "GET", "url": "/graphemu-test/dir", "dependsOn": []string{"9"}}), ""},
		{"forward dependency", batchOf(item{"id": "1", "method": "GET", "url": "/graphemu-test/dir", "dependsOn": []string{"2"}}, get("2")), ""},
		{"self dependency", batchOf(item{"id": "1", "method": "GET", "url": "/graphemu-test/dir", "dependsOn": []string{"1"}}), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := ts.echoes.Load()
			status, b := ts.postBatch(t, tok, tt.payload)
			if status != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400; body %s", status, b)
			}
			e := decodeGraphError(t, b)
			if e.Error.Code != "BadRequest" || tt.wantMsg != "" && e.Error.Message != tt.wantMsg {
				t.Errorf("error = %q %q, want BadRequest %q", e.Error.Code, e.Error.Message, tt.wantMsg)
			}
			if ts.echoes.Load() != before {
				t.Error("a refused batch ran some of its requests")
			}
		})
	}

	// Invalid JSON.
	status, _, b := ts.do(t, "POST", "/v1.0/$batch", tok, strings.NewReader(`{"requests":[`), http.Header{"Content-Type": {"application/json"}})
	if status != http.StatusBadRequest {
		t.Errorf("truncated JSON: status = %d, want 400; body %s", status, b)
	}
}

func TestBatchDependsOn(t *testing.T) {
	ts := newTestServer(t)
	ct := map[string]string{"Content-Type": "application/json"}
	payload := batchOf(
		item{"id": "1", "method": "GET", "url": "/graphemu-test/missing"},
		item{"id": "2", "method": "POST", "url": "/graphemu-test/echo/after-failure", "headers": ct, "body": item{"n": 2}, "dependsOn": []string{"1"}},
		item{"id": "3", "method": "GET", "url": "/graphemu-test/echo/chained", "dependsOn": []string{"2"}},
		item{"id": "4", "method": "GET", "url": "/graphemu-test/echo/independent"},
		item{"id": "5", "method": "GET", "url": "/graphemu-test/echo/after-success", "dependsOn": []string{"4"}},
	)
	status, b := ts.postBatch(t, ts.token(t), payload)
	if status != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", status, b)
	}
	r := decodeBatch(t, b)
	want := map[string]int{"1": 404, "2": 424, "3": 424, "4": 200, "5": 200}
	if len(r.Responses) != len(want) {
		t.Fatalf("got %d responses, want %d", len(r.Responses), len(want))
	}
	for _, res := range r.Responses {
		if res.Status != want[res.ID] {
			t.Errorf("response %s: status %d, want %d", res.ID, res.Status, want[res.ID])
		}
		if res.Status == 424 {
			if e := decodeGraphError(t, res.Body); e.Error.Code != "FailedDependency" {
				t.Errorf("response %s: code %q, want FailedDependency", res.ID, e.Error.Code)
			}
		}
	}
	if n := ts.echoes.Load(); n != 2 {
		t.Errorf("echo route ran %d times, want 2 (the failed dependents must not run)", n)
	}
}

func TestBatchItemRequest(t *testing.T) {
	ts := newTestServer(t)
	payload := batchOf(item{
		"id": "a", "method": "PATCH",
		"url": "graphemu-test/echo/al%C3%A9x%40northwind.example?$filter=startswith(displayName,'O''Brien')",
		"headers": map[string]string{
			"content-type":  "application/json",
			"X-Test":        "kept",
			"Authorization": "Bearer forged",
		},
		"body": item{"displayName": "Alex"},
	})
	status, b := ts.postBatch(t, ts.token(t), payload)
	if status != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", status, b)
	}
	res := decodeBatch(t, b).Responses[0]
	if res.Status != 200 {
		t.Fatalf("item status = %d, want 200; body %s", res.Status, res.Body)
	}
	var echo struct {
		Method, Name, Query, ContentType, Custom, App string
		Body                                          map[string]string
	}
	if err := json.Unmarshal(res.Body, &echo); err != nil {
		t.Fatal(err)
	}
	if echo.Method != "PATCH" || echo.Name != "aléx@northwind.example" || echo.Query != "startswith(displayName,'O''Brien')" ||
		echo.ContentType != "application/json" || echo.Custom != "kept" || echo.App != DemoGraphClientID ||
		echo.Body["displayName"] != "Alex" {
		t.Errorf("item request as served = %+v", echo)
	}

	var logged bool
	for _, rec := range ts.Requests() {
		if rec.Path == testRoot+"/echo/aléx@northwind.example" && rec.Method == "PATCH" && rec.Status == 200 {
			logged = true
		}
	}
	if !logged {
		t.Error("batch item missing from the request log")
	}
}

func TestBatchItemAuthorization(t *testing.T) {
	ts := newTestServer(t)
	ts.RegisterApp(App{ClientID: "auditor", Permissions: []string{"AuditLog.Read.All"}})
	tok, _ := ts.IssueToken("auditor")
	status, b := ts.postBatch(t, tok, batchOf(item{"id": "1", "method": "GET", "url": "/graphemu-test/dir"}))
	if status != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", status, b)
	}
	res := decodeBatch(t, b).Responses[0]
	if e := decodeGraphError(t, res.Body); res.Status != 403 || e.Error.Code != "Authorization_RequestDenied" {
		t.Errorf("item = %d %s, want 403 Authorization_RequestDenied", res.Status, res.Body)
	}
}

func TestBatchAuth(t *testing.T) {
	ts := newTestServer(t)
	payload := batchOf(item{"id": "1", "method": "GET", "url": "/graphemu-test/dir"})
	for _, tok := range []string{"", "garbage"} {
		status, b := ts.postBatch(t, tok, payload)
		if e := decodeGraphError(t, b); status != http.StatusUnauthorized || e.Error.Code != "InvalidAuthenticationToken" {
			t.Errorf("$batch with token %q: %d %s, want 401 InvalidAuthenticationToken", tok, status, b)
		}
	}
}

func TestBatchFaults(t *testing.T) {
	ts := newTestServer(t)
	tok := ts.token(t)
	ts.Inject(Fault{Path: testRoot + "/dir", Status: 429, RetryAfter: 7 * time.Second, Times: 1})
	payload := batchOf(
		item{"id": "1", "method": "GET", "url": "/graphemu-test/dir"},
		item{"id": "2", "method": "GET", "url": "/graphemu-test/dir"},
	)
	status, b := ts.postBatch(t, tok, payload)
	if status != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", status, b)
	}
	// The items run at once, so either may meet the one-time fault: one
	// is throttled with its own Retry-After, the other served.
	r := decodeBatch(t, b)
	throttled, served := 0, 0
	for _, got := range r.Responses {
		switch {
		case got.Status == 429 && got.Headers["Retry-After"] == "7":
			throttled++
		case got.Status == 200:
			served++
		}
	}
	if throttled != 1 || served != 1 {
		t.Errorf("responses = %+v, want one 429 with Retry-After 7 and one 200", r.Responses)
	}

	ts.Inject(Fault{Path: testRoot + "/dir", Drop: true})
	req, _ := http.NewRequest("POST", ts.URL()+"/v1.0/$batch", strings.NewReader(`{"requests":[{"id":"1","method":"GET","url":"/graphemu-test/dir"}]}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := ts.client.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("$batch with a dropped item: status %d, want a transport error", resp.StatusCode)
	}
}
