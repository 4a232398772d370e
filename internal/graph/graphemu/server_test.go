package graphemu

import (
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testRoot is where the tests' own Graph routes live, apart from the real
// ones.
const testRoot = "/v1.0/graphemu-test"

// testServer is an emulator with a few routes of the tests' own, which
// exercise authorization and batching without depending on the real Graph
// routes.
type testServer struct {
	*Server
	client *http.Client
	// echoes counts requests served by the echo route.
	echoes atomic.Int64
}

// newTestServer starts an emulator, adds the test routes and registers an
// app holding every permission the portal uses.
func newTestServer(t *testing.T) *testServer {
	t.Helper()
	s, err := New(Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	ts := &testServer{
		Server: s,
		client: &http.Client{
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.CertPool()}},
			Timeout:   10 * time.Second,
		},
	}
	t.Cleanup(ts.client.CloseIdleConnections)

	s.graph.HandleFunc("GET "+testRoot+"/dir", func(w http.ResponseWriter, r *http.Request) {
		if !s.authorize(w, r, permDirectory, "User.Read.All", "Directory.Read.All") {
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	})
	s.graph.HandleFunc("GET "+testRoot+"/methods", func(w http.ResponseWriter, r *http.Request) {
		if !s.authorize(w, r, permAuthMethods, "UserAuthenticationMethod.ReadWrite.All", "UserAuthenticationMethod.Read.All") {
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	})
	s.graph.HandleFunc("GET "+testRoot+"/missing", func(w http.ResponseWriter, r *http.Request) {
		if !s.authorize(w, r, permDirectory, "User.Read.All") {
			return
		}
		writeError(w, r, http.StatusNotFound, "Request_ResourceNotFound", "Resource 'missing' does not exist.")
	})
	// echo replies with what the handler saw, so batch tests can check how
	// items are turned into requests.
	s.graph.HandleFunc(testRoot+"/echo/{name}", func(w http.ResponseWriter, r *http.Request) {
		if !s.authorize(w, r, permDirectory, "User.Read.All") {
			return
		}
		ts.echoes.Add(1)
		body, _ := io.ReadAll(r.Body)
		var parsed any
		if len(body) > 0 {
			if err := json.Unmarshal(body, &parsed); err != nil {
				writeError(w, r, http.StatusBadRequest, "BadRequest", err.Error())
				return
			}
		}
		app := s.callerApp(r)
		writeJSON(w, http.StatusOK, map[string]any{
			"method":      r.Method,
			"name":        r.PathValue("name"),
			"query":       r.URL.Query().Get("$filter"),
			"contentType": r.Header.Get("Content-Type"),
			"custom":      r.Header.Get("X-Test"),
			"app":         app.ClientID,
			"body":        parsed,
		})
	})

	s.RegisterApp(App{ClientID: DemoGraphClientID, DisplayName: "Portal", Permissions: AllPermissions})
	return ts
}

// token issues a token for the test app.
func (ts *testServer) token(t *testing.T) string {
	t.Helper()
	tok, err := ts.IssueToken(DemoGraphClientID)
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	return tok
}

// do sends a request with an optional bearer token and returns the status,
// the headers and the body.
func (ts *testServer) do(t *testing.T, method, path, token string, body io.Reader, header http.Header) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL()+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, b
}

// graphError is Graph's error body.
type graphError struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError struct {
			RequestID string `json:"request-id"`
		} `json:"innerError"`
	} `json:"error"`
}

func decodeGraphError(t *testing.T, b []byte) graphError {
	t.Helper()
	var e graphError
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("error body %q: %v", b, err)
	}
	return e
}

func TestFaultLatency(t *testing.T) {
	ts := newTestServer(t)
	ts.Inject(Fault{Path: testRoot + "/*", Latency: 300 * time.Millisecond})
	start := time.Now()
	status, _, _ := ts.do(t, "GET", testRoot+"/dir", ts.token(t), nil, nil)
	if elapsed := time.Since(start); elapsed < 300*time.Millisecond {
		t.Errorf("GET with 300ms latency took %v", elapsed)
	}
	if status != http.StatusOK {
		t.Errorf("status = %d, want 200", status)
	}
}

func TestFaultStatus(t *testing.T) {
	tests := []struct {
		name           string
		fault          Fault
		wantStatus     int
		wantCode       string
		wantRetryAfter string
	}{
		{"throttled", Fault{Status: 429, RetryAfter: 1500 * time.Millisecond}, 429, "TooManyRequests", "2"},
		{"throttled without delay", Fault{Status: 429}, 429, "TooManyRequests", ""},
		{"unavailable", Fault{Status: 503, RetryAfter: 3 * time.Second}, 503, "serviceNotAvailable", "3"},
		{"gateway timeout", Fault{Status: 504}, 504, "serviceNotAvailable", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t)
			tt.fault.Method = "GET"
			tt.fault.Path = testRoot + "/dir"
			ts.Inject(tt.fault)
			status, h, b := ts.do(t, "GET", testRoot+"/dir", ts.token(t), nil, nil)
			if status != tt.wantStatus {
				t.Fatalf("status = %d, want %d", status, tt.wantStatus)
			}
			if got := h.Get("Retry-After"); got != tt.wantRetryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.wantRetryAfter)
			}
			e := decodeGraphError(t, b)
			if e.Error.Code != tt.wantCode {
				t.Errorf("code = %q, want %q", e.Error.Code, tt.wantCode)
			}
			if e.Error.InnerError.RequestID == "" || e.Error.InnerError.RequestID != h.Get("request-id") {
				t.Errorf("innerError request-id = %q, header request-id = %q; want equal and set", e.Error.InnerError.RequestID, h.Get("request-id"))
			}
		})
	}
}

func TestFaultMatching(t *testing.T) {
	ts := newTestServer(t)
	tok := ts.token(t)
	remove := ts.Inject(Fault{Method: "POST", Path: testRoot + "/dir", Status: 503})
	if status, _, _ := ts.do(t, "GET", testRoot+"/dir", tok, nil, nil); status != http.StatusOK {
		t.Errorf("GET under a POST-only fault: status = %d, want 200", status)
	}
	remove()
	ts.Inject(Fault{Path: testRoot + "/*", Status: 503})
	if status, _, _ := ts.do(t, "GET", testRoot+"/dir", tok, nil, nil); status != http.StatusServiceUnavailable {
		t.Errorf("GET under a wildcard fault: status = %d, want 503", status)
	}
	ts.ClearFaults()
	if status, _, _ := ts.do(t, "GET", testRoot+"/dir", tok, nil, nil); status != http.StatusOK {
		t.Errorf("GET after ClearFaults: status = %d, want 200", status)
	}
}

func TestFaultTimes(t *testing.T) {
	ts := newTestServer(t)
	tok := ts.token(t)
	ts.Inject(Fault{Path: testRoot + "/dir", Status: 503, Times: 2})
	var got []int
	for range 3 {
		status, _, _ := ts.do(t, "GET", testRoot+"/dir", tok, nil, nil)
		got = append(got, status)
	}
	want := []int{503, 503, 200}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statuses = %v, want %v", got, want)
		}
	}
}

func TestFaultDrop(t *testing.T) {
	ts := newTestServer(t)
	remove := ts.Inject(Fault{Path: testRoot + "/dir", Drop: true})
	req, _ := http.NewRequest("GET", ts.URL()+testRoot+"/dir", nil)
	req.Header.Set("Authorization", "Bearer "+ts.token(t))
	resp, err := ts.client.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("GET under a Drop fault: status %d, want a transport error", resp.StatusCode)
	}
	remove()
	if status, _, _ := ts.do(t, "GET", testRoot+"/dir", ts.token(t), nil, nil); status != http.StatusOK {
		t.Errorf("GET after removing the fault: status = %d, want 200", status)
	}
}

func TestGzipRequestBody(t *testing.T) {
	ts := newTestServer(t)
	payload := `{"requests":[{"id":"1","method":"POST","url":"/graphemu-test/echo/zipped",` +
		`"headers":{"Content-Type":"application/json"},"body":{"greeting":"hello"}}]}`
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write([]byte(payload))
	zw.Close()

	h := http.Header{"Content-Type": {"application/json"}, "Content-Encoding": {"gzip"}}
	status, _, b := ts.do(t, "POST", "/v1.0/$batch", ts.token(t), &zipped, h)
	if status != http.StatusOK {
		t.Fatalf("gzipped $batch: status = %d, want 200; body %s", status, b)
	}
	resp := decodeBatch(t, b)
	var echo struct{ Body map[string]string }
	if err := json.Unmarshal(resp.Responses[0].Body, &echo); err != nil || echo.Body["greeting"] != "hello" {
		t.Errorf("echoed body = %s (%v), want the greeting", resp.Responses[0].Body, err)
	}
	reqs := ts.Requests()
	if last := reqs[len(reqs)-1]; last.Path != "/v1.0/$batch" || string(last.Body) != payload {
		t.Errorf("recorded %s with body %q, want /v1.0/$batch with the decompressed body", last.Path, last.Body)
	}

	h = http.Header{"Content-Type": {"application/json"}, "Content-Encoding": {"gzip"}}
	status, _, b = ts.do(t, "POST", "/v1.0/$batch", ts.token(t), strings.NewReader(payload), h)
	if status != http.StatusBadRequest {
		t.Fatalf("plain body labelled gzip: status = %d, want 400", status)
	}
	if e := decodeGraphError(t, b); e.Error.Code != "BadRequest" {
		t.Errorf("code = %q, want BadRequest", e.Error.Code)
	}
}

func TestFaultFreeRequestLog(t *testing.T) {
	ts := newTestServer(t)
	h := http.Header{"client-request-id": {"abc"}}
	_, rh, _ := ts.do(t, "GET", testRoot+"/dir?$top=5", ts.token(t), nil, h)
	if got := rh.Get("client-request-id"); got != "abc" {
		t.Errorf("client-request-id echoed = %q, want abc", got)
	}
	reqs := ts.Requests()
	if len(reqs) != 1 {
		t.Fatalf("recorded %d requests, want 1", len(reqs))
	}
	if r := reqs[0]; r.Method != "GET" || r.Path != testRoot+"/dir" || r.Query != "$top=5" || r.Status != 200 {
		t.Errorf("recorded %+v, want GET %s/dir $top=5 200", r, testRoot)
	}
	ts.ResetRequests()
	if n := len(ts.Requests()); n != 0 {
		t.Errorf("after ResetRequests: %d requests, want 0", n)
	}
}
