package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
)

// replay stands between the portal and the Graph emulator. It passes
// every request on and keeps the last answer to each; while replaying,
// it answers a request it has seen from that answer, byte for byte,
// without asking the emulator.
//
// That is how the emulator's cost is kept out of the pages-per-second
// comparison: the emulator works out every answer afresh (filters,
// permissions, the request log), and on two cores its CPU, more than the
// portal's own per page, would be counted against the portal. The
// floor's JSON server answers from a fixed reply; replayed, Graph does
// too, while the portal still makes every read, over TLS and HTTP/2,
// and decodes and decides on every answer.
type replay struct {
	target   *url.URL
	client   *http.Client
	on       atomic.Bool
	replayed atomic.Int64
	// missed counts the requests passed on to the emulator while
	// replaying: each is the emulator's CPU counted against the page.
	missed atomic.Int64

	mu   sync.Mutex
	seen map[string]answer
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

// startReplay serves a replay of the emulator at target, trusting roots,
// over TLS with HTTP/2 like Graph and the floor's JSON server.
func startReplay(target string, roots *x509.CertPool) (*replay, *httptest.Server, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, nil, err
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 32}
	r := &replay{target: u, client: &http.Client{Transport: tr}, seen: map[string]answer{}}
	srv := httptest.NewUnstartedServer(r)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	return r, srv, nil
}

func (r *replay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	key := req.Method + " " + req.URL.RequestURI() + "\n" + string(body)
	if r.on.Load() {
		r.mu.Lock()
		a, ok := r.seen[key]
		r.mu.Unlock()
		if ok {
			r.replayed.Add(1)
			a.write(w)
			return
		}
		r.missed.Add(1)
	}
	out, err := http.NewRequestWithContext(req.Context(), req.Method, r.target.Scheme+"://"+r.target.Host+req.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = req.Header.Clone()
	resp, err := r.client.Do(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header.Clone()}
	if a.body, err = io.ReadAll(resp.Body); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	a.header.Del("Content-Length")
	if resp.StatusCode < 300 {
		r.mu.Lock()
		r.seen[key] = a
		r.mu.Unlock()
	}
	a.write(w)
}

func (a answer) write(w http.ResponseWriter) {
	for k, v := range a.header {
		w.Header()[k] = v
	}
	w.WriteHeader(a.status)
	w.Write(a.body)
}
