//go:build !nodemo

package app

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/tapportal/portal/internal/notify"
	"github.com/tapportal/portal/web/templates"
)

// demoReceiver stands in for a security team's webhook in the demo: it
// checks each event's signature as a receiver should, keeps the latest,
// and answers 200 once per event id, as a receiver that drops repeats.
type demoReceiver struct {
	secret []byte
	srv    *http.Server
	url    string

	mu     sync.Mutex
	events []templates.DemoEvent
}

// maxDemoEvents bounds what the demo keeps.
const maxDemoEvents = 200

func startDemoReceiver() (*demoReceiver, error) {
	secret := make([]byte, 32)
	rand.Read(secret)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &demoReceiver{secret: secret, url: "http://" + ln.Addr().String() + "/events"}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go r.srv.Serve(ln)
	return r, nil
}

// Secret is the signing secret, as PORTAL_WEBHOOK_SECRET holds it.
func (r *demoReceiver) Secret() string { return notify.FormatSecret(r.secret) }

func (r *demoReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 64<<10))
	if err != nil || req.Method != http.MethodPost {
		http.Error(w, "want a POST", http.StatusBadRequest)
		return
	}
	e := templates.DemoEvent{Received: time.Now(), ID: req.Header.Get(notify.HeaderID), Attempt: 1}
	if verr := notify.Verify([][]byte{r.secret}, req.Header, body, time.Now(), notify.DefaultTolerance); verr != nil {
		e.Problem = verr.Error()
	}
	var ev notify.Event
	if err := json.Unmarshal(body, &ev); err == nil {
		e.Kind, e.Summary = string(ev.Kind), ev.Summary
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := slices.IndexFunc(r.events, func(x templates.DemoEvent) bool { return x.ID == e.ID && e.Problem == "" }); i >= 0 {
		r.events[i].Attempt++
	} else {
		r.events = append(r.events, e)
		if len(r.events) > maxDemoEvents {
			r.events = r.events[1:]
		}
	}
	if e.Problem != "" {
		http.Error(w, "signature", http.StatusUnauthorized)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// Events returns what the receiver got, newest first.
func (r *demoReceiver) Events() []templates.DemoEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.events)
	slices.Reverse(out)
	return out
}

func (r *demoReceiver) Close() { r.srv.Close() }
