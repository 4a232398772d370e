package graph

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	khttp "github.com/microsoft/kiota-http-go"
)

// stubPipeline answers each attempt with the next of its results and keeps
// the bodies it was sent.
type stubPipeline struct {
	results []error
	bodies  []string
}

func (p *stubPipeline) Next(req *http.Request, _ int) (*http.Response, error) {
	b, _ := io.ReadAll(req.Body)
	p.bodies = append(p.bodies, string(b))
	err := p.results[0]
	p.results = p.results[1:]
	if err != nil {
		return nil, err
	}
	return &http.Response{StatusCode: http.StatusCreated, Body: io.NopCloser(bytes.NewReader(nil))}, nil
}

var _ khttp.Pipeline = (*stubPipeline)(nil)

func TestDialRetryOnlyWhenNothingWasSent(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	for _, tt := range []struct {
		name     string
		results  []error
		attempts int
		ok       bool
	}{
		{"refused, then served", []error{refused, refused, nil}, 3, true},
		{"refused three times", []error{refused, refused, refused}, 3, false},
		{"reset after sending: never again", []error{reset}, 1, false},
		{"timeout: never again", []error{errors.New("context deadline exceeded")}, 1, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := &stubPipeline{results: tt.results}
			req, _ := http.NewRequest(http.MethodPost, "https://graph.example/v1.0/users/x/authentication/temporaryAccessPassMethods",
				bytes.NewReader([]byte(`{"lifetimeInMinutes":60}`)))
			resp, err := dialRetry{delay: time.Millisecond}.Intercept(p, 0, req)
			if len(p.bodies) != tt.attempts || (err == nil) != tt.ok {
				t.Fatalf("attempts = %d, err = %v; want %d attempts, success %v", len(p.bodies), err, tt.attempts, tt.ok)
			}
			for i, b := range p.bodies {
				if b != `{"lifetimeInMinutes":60}` {
					t.Errorf("attempt %d sent body %q, want the whole body again", i+1, b)
				}
			}
			if resp != nil {
				resp.Body.Close()
			}
		})
	}
}

func TestShouldRetryNeverRepeatsAWriteGraphMayHaveDone(t *testing.T) {
	retry := shouldRetry(time.Second)
	get, _ := http.NewRequest(http.MethodGet, "https://graph.example/v1.0/users", nil)
	post, _ := http.NewRequest(http.MethodPost, "https://graph.example/v1.0/users/x/authentication/temporaryAccessPassMethods", nil)
	del, _ := http.NewRequest(http.MethodDelete, "https://graph.example/v1.0/users/x/authentication/temporaryAccessPassMethods/y", nil)
	reply := func(status int, retryAfter string) *http.Response {
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		return &http.Response{StatusCode: status, Header: h}
	}
	for _, tt := range []struct {
		name string
		req  *http.Request
		resp *http.Response
		want bool
	}{
		{"read on 503", get, reply(503, ""), true},
		{"create on 503", post, reply(503, ""), false},
		{"create on 504", post, reply(504, ""), false},
		{"delete on 503", del, reply(503, ""), false},
		{"create on 429", post, reply(429, "1"), true},
		{"delete on 429", del, reply(429, "2"), true},
	} {
		if got := retry(0, 0, tt.req, tt.resp); got != tt.want {
			t.Errorf("%s: retry = %v, want %v", tt.name, got, tt.want)
		}
	}
	// A wait longer than the call's budget is not waited out.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if retry(0, 0, get.WithContext(ctx), reply(429, "60")) {
		t.Error("a Retry-After of 60 s was waited for with 5 s left")
	}
	if !retry(0, 0, get.WithContext(ctx), reply(429, "2")) {
		t.Error("a Retry-After of 2 s was not waited for with 5 s left")
	}
}
