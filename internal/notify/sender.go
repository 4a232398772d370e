package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/internal/store"
)

// Queue is where deliveries wait, shared by every replica's Sender;
// *store.Store is one.
type Queue interface {
	Enqueue(ctx context.Context, eventID, kind string, payload []byte, at time.Time) (bool, error)
	ClaimDue(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]store.Delivery, error)
	MarkDelivered(ctx context.Context, id int64, a store.Attempt) (bool, error)
	MarkFailed(ctx context.Context, id int64, a store.Attempt, retry time.Time, maxAttempts int) (store.DeliveryState, error)
	Requeue(ctx context.Context, id int64, now time.Time) (bool, error)
	PruneDeliveries(ctx context.Context, before time.Time) (int, error)
}

var _ Queue = (*store.Store)(nil)

const (
	// userAgent names the sender to receivers and their proxies.
	userAgent = "TAP-Portal-Webhook"
	// maxAnswer bounds how much of an answer is read: a receiver has
	// nothing to say beyond its status, and one that talks on must not
	// hold the sender.
	maxAnswer = 4 << 10
	// maxQuoted bounds how much of a failed answer goes into the error
	// kept for a supervisor.
	maxQuoted = 200
	// pruneEvery is how often Run deletes old delivered deliveries.
	pruneEvery = time.Hour
)

// Sender queues events and sends them to the webhook.
type Sender struct {
	queue  Queue
	cfg    Config
	client *http.Client
	// wake tells Run that a delivery was queued; one pending signal is
	// enough, since Run claims everything due.
	wake chan struct{}
}

// New returns a Sender on queue, or an error naming every setting of cfg
// that is wrong.
func New(queue Queue, cfg Config) (*Sender, error) {
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	secrets := make([][]byte, len(cfg.Secrets))
	for i, s := range cfg.Secrets {
		secrets[i] = bytes.Clone(s)
	}
	cfg.Secrets, cfg.Backoff = secrets, append([]time.Duration(nil), cfg.Backoff...)
	client := &http.Client{
		Transport: cfg.Transport,
		// A redirect is answered as a failure, not followed: the signed
		// event goes only where it is configured to go.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Sender{queue: queue, cfg: cfg, client: client, wake: make(chan struct{}, 1)}, nil
}

// Notify queues e for the webhook, setting its time to now if it has
// none, and wakes Run; it does not wait for the network. An event whose id
// was queued before is not queued again. It returns an error for an
// invalid event or when the queue cannot be written.
func (s *Sender) Notify(ctx context.Context, e Event) error {
	if e.Time.IsZero() {
		e.Time = s.cfg.Now()
	}
	body, err := e.Encode()
	if err != nil {
		return err
	}
	if _, err := s.queue.Enqueue(ctx, e.ID, string(e.Kind), body, s.cfg.Now()); err != nil {
		return err
	}
	s.signal()
	return nil
}

// Requeue makes a dead delivery pending again, for a supervisor, and
// wakes Run to attempt it at once. It reports whether the delivery was
// dead.
func (s *Sender) Requeue(ctx context.Context, id int64) (bool, error) {
	ok, err := s.queue.Requeue(ctx, id, s.cfg.Now())
	if ok {
		s.signal()
	}
	return ok, err
}

func (s *Sender) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run sends due deliveries until ctx ends: at once when Notify or Requeue
// wakes it, every Poll otherwise, and straight away again while claims
// come back full. Hourly it deletes deliveries delivered more than Keep
// ago. When ctx ends it returns once the attempts under way have finished,
// each within Timeout.
func (s *Sender) Run(ctx context.Context) {
	poll := time.NewTicker(s.cfg.Poll)
	defer poll.Stop()
	var pruned time.Time
	for ctx.Err() == nil {
		if now := s.cfg.Now(); pruned.IsZero() || now.Sub(pruned) >= pruneEvery {
			pruned = now
			if _, err := s.queue.PruneDeliveries(ctx, now.Add(-s.cfg.Keep)); err != nil && ctx.Err() == nil {
				s.cfg.Logger.WarnContext(ctx, "pruning delivered webhook deliveries", "err", err)
			}
		}
		n, err := s.Step(ctx)
		if err != nil && ctx.Err() == nil {
			s.cfg.Logger.ErrorContext(ctx, "webhook deliveries", "err", err)
		}
		if err == nil && n == s.cfg.Batch {
			continue
		}
		select {
		case <-ctx.Done():
		case <-poll.C:
		case <-s.wake:
		}
	}
}

// Step claims the deliveries due now, at most Batch, attempts each once,
// all at the same time, and returns how many it attempted. Its error is
// the queue's: a receiver's failure is recorded, not returned.
func (s *Sender) Step(ctx context.Context) (int, error) {
	ds, err := s.queue.ClaimDue(ctx, s.cfg.Owner, s.cfg.Now(), s.cfg.Lease, s.cfg.Batch)
	if err != nil {
		return 0, err
	}
	errs := make([]error, len(ds))
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Go(func() { errs[i] = s.attempt(ctx, d) })
	}
	wg.Wait()
	return len(ds), errors.Join(errs...)
}

// attempt sends d once and records the outcome.
func (s *Sender) attempt(ctx context.Context, d store.Delivery) error {
	// An attempt under way finishes, within Timeout, and is recorded even
	// if ctx ends meanwhile: cut short, an event the receiver may have had
	// would be sent again once the lease lapsed.
	ctx = context.WithoutCancel(ctx)
	status, failure := s.post(ctx, d)
	a := store.Attempt{Owner: s.cfg.Owner, At: s.cfg.Now(), Status: status, Error: failure}
	if failure == "" {
		_, err := s.queue.MarkDelivered(ctx, d.ID, a)
		return err
	}
	n := d.Attempts + 1
	retry := a.At.Add(s.backoff(n))
	state, err := s.queue.MarkFailed(ctx, d.ID, a, retry, s.cfg.MaxAttempts)
	if err != nil {
		return err
	}
	log := s.cfg.Logger.With("event_id", d.EventID, "kind", d.Kind, "attempt", n, "status", status, "err", failure)
	switch state {
	case store.DeliveryDead:
		log.ErrorContext(ctx, "webhook delivery is dead after its last attempt: a supervisor can requeue it")
	case store.DeliveryPending:
		log.WarnContext(ctx, "webhook delivery failed, to be retried", "retry", retry)
	default:
		log.InfoContext(ctx, "webhook delivery failed after another sender took over its lease")
	}
	return nil
}

// post sends d and returns the status answered (0 when none was) and,
// for anything but a 2xx, why the attempt failed.
func (s *Sender) post(ctx context.Context, d store.Delivery) (status int, failure string) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(d.Payload))
	if err != nil {
		return 0, withoutURL(err)
	}
	// Signed at each attempt, so that the timestamp is the attempt's and
	// receivers can refuse an old request replayed.
	now := s.cfg.Now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(HeaderID, d.EventID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, Sign(s.cfg.Secrets, d.EventID, now, d.Payload))
	resp, err := s.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, fmt.Sprintf("no answer within %v", s.cfg.Timeout)
		}
		return 0, withoutURL(err)
	}
	defer resp.Body.Close()
	// Reading the answer, a little of it, lets the connection be reused.
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, ""
	}
	msg := "the receiver answered " + resp.Status
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		msg += ", a redirect, which is not followed"
		if loc := resp.Header.Get("Location"); loc != "" {
			msg += " (to " + quote([]byte(loc)) + ")"
		}
	}
	if text := quote(answer); text != "" {
		msg += ": " + text
	}
	return resp.StatusCode, msg
}

// withoutURL says what went wrong in err without the URL that Go's HTTP
// client names in its errors: a receiver's URL may carry a secret in its
// path or query (Slack's and Teams' hooks do), and what a failed attempt
// says is kept in the database, logged and shown to supervisors. Only the
// password is left out of the client's errors; the rest of the URL is not.
func withoutURL(err error) string {
	for {
		ue, ok := errors.AsType[*url.Error](err)
		switch {
		case !ok:
			return err.Error()
		case ue.Err == nil:
			return "the request failed"
		}
		err = ue.Err
	}
}

// backoff returns the wait after a delivery's nth failed attempt.
func (s *Sender) backoff(n int) time.Duration {
	d := s.cfg.Backoff[min(n, len(s.cfg.Backoff))-1]
	if j := d / 5; j > 0 {
		d += rand.N(j)
	}
	return d
}

// quote returns the start of a receiver's answer fit to keep and show:
// one line, each run of spaces one space, at most maxQuoted bytes.
func quote(b []byte) string {
	// Only the start is read: a receiver's answer is not ours to keep.
	s := portal.Clip(string(b[:min(len(b), 4*maxQuoted)]), 4*maxQuoted)
	return portal.Clip(strings.Join(strings.Fields(s), " "), maxQuoted)
}
