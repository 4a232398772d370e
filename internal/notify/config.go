package notify

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Config configures a Sender. Zero values take the defaults given.
type Config struct {
	// URL receives the events: https, or http to a loopback host (for
	// the demo and tests), since the events name people and accounts.
	URL string
	// Secrets sign every request, each MinSecretLength to MaxSecretLength
	// bytes.
	// Every one signs, so during a rotation list the new secret with the
	// old until every receiver has the new one.
	Secrets [][]byte
	// MaxAttempts is how many attempts a delivery gets before it is
	// dead; default 8.
	MaxAttempts int
	// Backoff is the wait after each failed attempt: the nth failure
	// waits Backoff[n-1], the last repeating, lengthened by up to a fifth
	// at random so that senders that failed together do not retry
	// together. Default 30s, 2m, 10m, 1h, 6h.
	Backoff []time.Duration
	// Timeout bounds one attempt, the answer included; default 10s.
	Timeout time.Duration
	// Transport sends the requests; default http.DefaultTransport. The
	// Sender keeps the redirect policy and the timeout its own.
	Transport http.RoundTripper
	// Logger logs failed attempts (warn) and dead deliveries (error);
	// default discards.
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Owner names this sender in the leases it takes; default random.
	Owner string
	// Lease is how long a claimed delivery stays this sender's before
	// another may take it over; default the longer of 2m and three times
	// Timeout, and at least twice Timeout, so that a lease does not lapse
	// while its attempt is still waiting for an answer.
	Lease time.Duration
	// Batch is the most deliveries claimed and sent at once; default 16.
	Batch int
	// Poll is how often Run looks for deliveries that came due (retries,
	// and events other replicas queued); default 10s. Notify wakes it at
	// once.
	Poll time.Duration
	// Keep is how long delivered deliveries are kept; default 30 days.
	Keep time.Duration
}

// DefaultBackoff returns the default wait after each failed attempt.
func DefaultBackoff() []time.Duration {
	return []time.Duration{30 * time.Second, 2 * time.Minute, 10 * time.Minute, time.Hour, 6 * time.Hour}
}

// Defaults of the Config fields that DefaultBackoff does not cover.
const (
	DefaultMaxAttempts = 8
	DefaultTimeout     = 10 * time.Second
	DefaultBatch       = 16
	DefaultPoll        = 10 * time.Second
	DefaultKeep        = 30 * 24 * time.Hour
)

// maxAttemptsLimit bounds MaxAttempts: past it a receiver is not coming
// back, and a supervisor should look.
const maxAttemptsLimit = 100

// withDefaults returns c with its zero values replaced.
func (c Config) withDefaults() Config {
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.Backoff == nil {
		c.Backoff = DefaultBackoff()
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Transport == nil {
		c.Transport = http.DefaultTransport
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Owner == "" {
		c.Owner = "sender-" + rand.Text()
	}
	if c.Lease == 0 {
		c.Lease = max(2*time.Minute, 3*c.Timeout)
	}
	if c.Batch == 0 {
		c.Batch = DefaultBatch
	}
	if c.Poll == 0 {
		c.Poll = DefaultPoll
	}
	if c.Keep == 0 {
		c.Keep = DefaultKeep
	}
	return c
}

// Validate reports everything wrong with c once its defaults are
// applied, naming each setting at fault.
func (c Config) Validate() error {
	return c.withDefaults().check()
}

func (c Config) check() error {
	errs := []error{checkURL(c.URL)}
	if len(c.Secrets) == 0 {
		errs = append(errs, errors.New("webhook secret: none given"))
	}
	for i, s := range c.Secrets {
		if err := checkSecret(s); err != nil {
			errs = append(errs, fmt.Errorf("webhook secret %d: %w", i+1, err))
		}
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > maxAttemptsLimit {
		errs = append(errs, fmt.Errorf("webhook max attempts: %d, want 1 to %d", c.MaxAttempts, maxAttemptsLimit))
	}
	if len(c.Backoff) == 0 {
		errs = append(errs, errors.New("webhook backoff: empty, want at least one wait"))
	}
	for i, d := range c.Backoff {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("webhook backoff %d: %v, want a positive wait", i+1, d))
		}
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("webhook timeout: %v, want a positive duration", c.Timeout))
	}
	if c.Lease < 2*c.Timeout {
		errs = append(errs, fmt.Errorf("webhook lease: %v, want at least twice the timeout (%v)", c.Lease, 2*c.Timeout))
	}
	if c.Batch < 1 || c.Batch > 100 {
		errs = append(errs, fmt.Errorf("webhook batch: %d, want 1 to 100", c.Batch))
	}
	if c.Poll <= 0 {
		errs = append(errs, fmt.Errorf("webhook poll interval: %v, want a positive duration", c.Poll))
	}
	if c.Keep <= 0 {
		errs = append(errs, fmt.Errorf("webhook keep: %v, want a positive duration", c.Keep))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}

// checkURL accepts https, and http only to this machine: the events name
// people and accounts, and must not cross a network in the clear.
func checkURL(raw string) error {
	if raw == "" {
		return errors.New("webhook URL: not set")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return errors.New("webhook URL: not an absolute URL such as https://hooks.example/tap")
	}
	// Only the host is named: the URL may carry a token in its path or
	// query, or a password.
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("webhook URL: http to %s, want https (http is allowed only to a loopback host such as 127.0.0.1)", u.Hostname())
	default:
		return fmt.Errorf("webhook URL: scheme %q, want https", u.Scheme)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
