package graph

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	khttp "github.com/microsoft/kiota-http-go"
)

// What a Graph call may retry, and what it must not. A write is retried
// only when Graph cannot have acted on it: a 429 (Graph refused before
// acting, and says when to come back) or a connection that was never
// made. A 503 or 504 after a write may come from a Graph that acted (it
// can), so it is returned to the caller, which settles the outcome from
// Graph instead of sending the write again.

// isWrite reports whether a request changes something at Graph. A POST
// that only reads (checkMemberGroups, $batch of reads) is treated as a
// write all the same: the stricter reading.
func isWrite(r *http.Request) bool {
	return r.Method != http.MethodGet && r.Method != http.MethodHead
}

// shouldRetry decides, for the SDK's retry handler, whether a 429, 503 or
// 504 is tried again: never a write unless throttled, and never when the
// wait Graph asks for would outlast the call's budget (the caller is told
// when to come back instead of waiting out its deadline).
func shouldRetry(baseDelay time.Duration) func(time.Duration, int, *http.Request, *http.Response) bool {
	return func(_ time.Duration, attempt int, req *http.Request, resp *http.Response) bool {
		if isWrite(req) && resp.StatusCode != http.StatusTooManyRequests {
			return false
		}
		wait := retryAfter(httpHeaders(resp.Header))
		if wait <= 0 {
			wait = baseDelay << attempt
		}
		if deadline, ok := req.Context().Deadline(); ok && time.Until(deadline) < wait+time.Second {
			return false
		}
		return true
	}
}

// dialRetry is a pipeline middleware that tries a request again when its
// connection could not be made (refused, unreachable): nothing reached
// Graph, so even a write is safe to send again. It tries three times in
// all, within the call's budget.
type dialRetry struct{ delay time.Duration }

func (d dialRetry) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		resp, err := p.Next(req, i)
		if err == nil || attempt == 2 || !neverSent(err) || !rewind(req) {
			return resp, err
		}
		t := time.NewTimer(d.delay << attempt)
		select {
		case <-req.Context().Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

// neverSent reports whether err says the connection was never made, so
// the request cannot have reached Graph.
func neverSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// rewind makes req's body readable again for another attempt, and reports
// whether it could.
func rewind(req *http.Request) bool {
	if req.Body == nil || req.Body == http.NoBody {
		return true
	}
	if s, ok := req.Body.(io.Seeker); ok {
		_, err := s.Seek(0, io.SeekStart)
		return err == nil
	}
	if req.GetBody == nil {
		return false
	}
	body, err := req.GetBody()
	if err != nil {
		return false
	}
	req.Body = body
	return true
}

// healingCredential is the Graph app's certificate credential, renewed
// when Graph refuses the token it gave (revoked, the app's credentials
// rolled, clocks apart): a new credential has an empty token cache, so its
// next token is new. The SDK's authentication, readiness and the 401
// middleware all go through it.
type healingCredential struct {
	make  func() (azcore.TokenCredential, error)
	scope string

	mu   sync.Mutex
	cred azcore.TokenCredential
	// token is the credential's last token, handed out again until it
	// is due for renewal: the credential's own cache is a locked lookup
	// that allocates, and it ran on every Graph request.
	token azcore.AccessToken
	// refusedAt is when Graph last refused a token just renewed; zero once
	// a call succeeds again.
	refusedAt time.Time
}

func newHealingCredential(scope string, make func() (azcore.TokenCredential, error)) (*healingCredential, error) {
	cred, err := make()
	if err != nil {
		return nil, err
	}
	return &healingCredential{make: make, scope: scope, cred: cred}, nil
}

// tokenMargin is how long before its expiry a token is no longer handed
// out from the cache: the credential renews it then.
const tokenMargin = 5 * time.Minute

// GetToken implements azcore.TokenCredential, always for the Graph scope.
func (h *healingCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	h.mu.Lock()
	cred, tok := h.cred, h.token
	h.mu.Unlock()
	if fresh(tok, time.Now()) && opts.Claims == "" {
		return tok, nil
	}
	opts.Scopes = []string{h.scope}
	tok, err := cred.GetToken(ctx, opts)
	if err != nil {
		return tok, err
	}
	h.mu.Lock()
	if h.cred == cred {
		h.token = tok
	}
	h.mu.Unlock()
	return tok, nil
}

// fresh reports whether tok may still be handed out at now: before the
// time the service asked it to be refreshed, and well before it expires.
func fresh(tok azcore.AccessToken, now time.Time) bool {
	if tok.Token == "" || !now.Before(tok.ExpiresOn.Add(-tokenMargin)) {
		return false
	}
	return tok.RefreshOn.IsZero() || now.Before(tok.RefreshOn)
}

// renew drops the credential (and with it its cached token) for a new one.
func (h *healingCredential) renew() error {
	cred, err := h.make()
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.cred, h.token = cred, azcore.AccessToken{}
	h.mu.Unlock()
	return nil
}

func (h *healingCredential) refused(now time.Time) {
	h.mu.Lock()
	h.refusedAt = now
	h.mu.Unlock()
}

func (h *healingCredential) accepted() {
	h.mu.Lock()
	h.refusedAt = time.Time{}
	h.mu.Unlock()
}

// refusal says why Graph refuses the portal's credential even after a
// renewal, or "" when it does not.
func (h *healingCredential) refusal() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.refusedAt.IsZero() {
		return ""
	}
	return fmt.Sprintf("Microsoft Graph has refused the portal's token since %s, even a new one.", h.refusedAt.UTC().Format(time.RFC3339))
}

// tokenHealer is a pipeline middleware: on a 401 from Graph it renews the
// credential and sends the request once more with the new token. A 401 is
// Graph refusing before acting, so this is safe for writes too.
type tokenHealer struct{ cred *healingCredential }

func (t tokenHealer) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	// The handlers after this one change the request they are given (the
	// compression handler gzips the body and says so in a header): they
	// get a copy, so that a second try starts from the request as built.
	resp, err := p.Next(req.Clone(req.Context()), i)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(req.Header.Get("Authorization"), "Bearer ") {
		if err == nil && resp.StatusCode < 400 {
			t.cred.accepted()
		}
		return resp, err
	}
	if !rewind(req) {
		return resp, nil
	}
	if rerr := t.cred.renew(); rerr != nil {
		return resp, nil
	}
	tok, terr := t.cred.GetToken(req.Context(), policy.TokenRequestOptions{})
	if terr != nil {
		return resp, nil
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	again, err := p.Next(req, i)
	if err == nil && again.StatusCode == http.StatusUnauthorized {
		t.cred.refused(time.Now())
	} else if err == nil {
		t.cred.accepted()
	}
	return again, err
}

// freshAttempt is a pipeline middleware just inside the SDK's retry
// handler: each attempt goes on as a copy of the request, its body read
// from the start. The compression handler gzips a body in the request it
// is given and says so in a header; without the copy, a write Graph
// throttled was sent again with that header over the plain body, and
// Graph could not read it.
type freshAttempt struct{}

func (freshAttempt) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	if !rewind(req) && req.Header.Get("Retry-Attempt") != "" {
		return nil, errors.New("the request's body cannot be read again for another attempt")
	}
	attempt := req.Clone(req.Context())
	if attempt.ContentLength == 0 {
		attempt.ContentLength = bodyLength(attempt.Body)
	}
	return p.Next(attempt, i)
}

// bodyLength is the length of a body the SDK made from bytes, which it
// sends without saying how long it is; 0 for none, -1 when not known.
// Told the length, the HTTP/2 transport sends a small body in one frame
// with the end of the stream, rather than in pieces of a kilobyte each
// written on its own, then an empty frame to end it.
func bodyLength(body io.ReadCloser) int64 {
	if body == nil || body == http.NoBody {
		return 0
	}
	s, ok := body.(io.Seeker)
	if !ok {
		return -1
	}
	at, err := s.Seek(0, io.SeekCurrent)
	if err != nil {
		return -1
	}
	end, err := s.Seek(0, io.SeekEnd)
	if _, rerr := s.Seek(at, io.SeekStart); err != nil || rerr != nil {
		return -1
	}
	return end - at
}

// afterRetries puts m just after the SDK's retry handler in its default
// middleware, or first if there is none.
func afterRetries(ms []khttp.Middleware, m khttp.Middleware) []khttp.Middleware {
	at := 0
	for i, h := range ms {
		switch h.(type) {
		case khttp.RetryHandler, *khttp.RetryHandler:
			at = i + 1
		}
	}
	return slices.Insert(ms, at, m)
}

// httpHeaders adapts net/http's headers to what retryAfter reads.
type httpHeaders http.Header

func (h httpHeaders) Get(name string) []string { return http.Header(h).Values(name) }

// maxReply bounds what the portal reads of one Graph reply. The largest
// it asks for (a page of 999 objects, a batch of twenty) is a few
// megabytes; a reply past the bound fails as one the portal cannot read.
const maxReply = 32 << 20

// replyLimit is a pipeline middleware that fails the reading of a reply
// body past max bytes, so that a reply without end cannot take the
// portal's memory.
type replyLimit struct{ max int64 }

func (l replyLimit) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	resp, err := p.Next(req, i)
	if err == nil && resp.Body != nil {
		resp.Body = &limitedBody{ReadCloser: resp.Body, left: l.max}
	}
	return resp, err
}

// errReplyTooLarge is the error of reading a reply past maxReply.
var errReplyTooLarge = errors.New("the reply from Microsoft Graph is larger than the portal reads")

type limitedBody struct {
	io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a reply of exactly the bound from a longer
		// one.
		var one [1]byte
		n, err := b.ReadCloser.Read(one[:])
		if n > 0 {
			return 0, errReplyTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}
