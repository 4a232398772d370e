package graph

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
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

// countingCredential hands out tokens from a list and counts the asks.
type countingCredential struct {
	tokens []azcore.AccessToken
	asked  int
}

func (c *countingCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.asked++
	return c.tokens[min(c.asked, len(c.tokens))-1], nil
}

// TestHealingCredentialCachesUntilRenewal hands out a token from its own
// cache until it is due for renewal, asks the credential again then, and
// forgets it when the credential is renewed after Graph refused it.
func TestHealingCredentialCachesUntilRenewal(t *testing.T) {
	now := time.Now()
	long := azcore.AccessToken{Token: "long", ExpiresOn: now.Add(time.Hour)}
	due := azcore.AccessToken{Token: "due", ExpiresOn: now.Add(time.Hour), RefreshOn: now.Add(-time.Second)}
	near := azcore.AccessToken{Token: "near", ExpiresOn: now.Add(tokenMargin - time.Second)}
	for _, tc := range []struct {
		name      string
		first     azcore.AccessToken
		wantAsked int
	}{
		{"valid for an hour", long, 1},
		{"past its refresh time", due, 3},
		{"within the margin of its expiry", near, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cred := &countingCredential{tokens: []azcore.AccessToken{tc.first}}
			made := 0
			h, err := newHealingCredential("https://graph.example/.default", func() (azcore.TokenCredential, error) {
				made++
				return cred, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				tok, err := h.GetToken(context.Background(), policy.TokenRequestOptions{})
				if err != nil || tok.Token != tc.first.Token {
					t.Fatalf("GetToken = %q, %v; want %q", tok.Token, err, tc.first.Token)
				}
			}
			if cred.asked != tc.wantAsked {
				t.Errorf("the credential was asked %d times for 3 tokens, want %d", cred.asked, tc.wantAsked)
			}
			cred.tokens = append(cred.tokens, azcore.AccessToken{Token: "renewed", ExpiresOn: now.Add(time.Hour)})
			cred.asked = len(cred.tokens) - 1
			if err := h.renew(); err != nil {
				t.Fatal(err)
			}
			if tok, _ := h.GetToken(context.Background(), policy.TokenRequestOptions{}); tok.Token != "renewed" || made != 2 {
				t.Errorf("after renew: token %q from credential %d, want renewed from credential 2", tok.Token, made)
			}
		})
	}
}

// TestBodyLength tells the transport how long a body the SDK made is, from
// where it stands, and leaves it where it stood.
func TestBodyLength(t *testing.T) {
	read := io.NopCloser(bytes.NewReader([]byte("abcdef")))
	seeker := khttp.NopCloser(bytes.NewReader([]byte("abcdef")))
	seeker.Read(make([]byte, 2))
	for _, tt := range []struct {
		name string
		body io.ReadCloser
		want int64
	}{
		{"none", nil, 0},
		{"no body", http.NoBody, 0},
		{"bytes, two read", seeker, 4},
		{"a reader that cannot seek", read, -1},
	} {
		if got := bodyLength(tt.body); got != tt.want {
			t.Errorf("bodyLength(%s) = %d, want %d", tt.name, got, tt.want)
		}
	}
	rest, _ := io.ReadAll(seeker)
	if string(rest) != "cdef" {
		t.Errorf("after bodyLength the body reads %q, want cdef", rest)
	}
}

// TestLimitedBody reads a reply up to its bound and fails one past it.
func TestLimitedBody(t *testing.T) {
	for _, tt := range []struct {
		size    int
		wantErr bool
	}{{0, false}, {9, false}, {10, false}, {11, true}, {1000, true}} {
		b := &limitedBody{ReadCloser: io.NopCloser(iotest.OneByteReader(strings.NewReader(strings.Repeat("x", tt.size)))), left: 10}
		got, err := io.ReadAll(b)
		if (err != nil) != tt.wantErr || !tt.wantErr && len(got) != tt.size {
			t.Errorf("reading %d bytes with a bound of 10 = %d bytes, %v; want an error: %v", tt.size, len(got), err, tt.wantErr)
		}
		if tt.wantErr && !errors.Is(err, errReplyTooLarge) {
			t.Errorf("reading %d bytes: error %v, want errReplyTooLarge", tt.size, err)
		}
	}
}
