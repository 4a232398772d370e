package graphemu

import (
	"net/http"
	"strconv"
	"time"
)

// Graph's write limits for identity and access: per app and tenant, and
// for the tenant as a whole across apps.
const (
	defaultWriteLimit   = 3000
	defaultWriteWindow  = 150 * time.Second
	tenantWriteLimit    = 18000
	tenantWriteWindow   = 5 * time.Minute
	tenantWritesAllApps = "*"
)

// takeSlot counts one request under key at now in hits, a sliding window
// of real time (throttling is about request rate, not the emulated
// clock). It returns how long the caller must wait, or 0 when the request
// may proceed and has been counted.
func takeSlot(hits map[string][]time.Time, key string, now time.Time, limit int, window time.Duration) time.Duration {
	recent := hits[key][:0]
	for _, at := range hits[key] {
		if now.Sub(at) < window {
			recent = append(recent, at)
		}
	}
	if len(recent) >= limit {
		hits[key] = recent
		return recent[0].Add(window).Sub(now)
	}
	hits[key] = append(recent, now)
	return 0
}

// throttleWrite counts a write by app at now against the app's limit
// (WriteLimit per WriteWindow) and the tenant's, and returns how long the
// caller must wait, or 0 when the write may proceed. A refused write is
// not counted.
func (t *Tenant) throttleWrite(app string, now time.Time) time.Duration {
	if t.writes == nil {
		t.writes = map[string][]time.Time{}
	}
	limit, window := t.WriteLimit, t.WriteWindow
	if limit <= 0 {
		limit = defaultWriteLimit
	}
	if window <= 0 {
		window = defaultWriteWindow
	}
	if wait := takeSlot(t.writes, tenantWritesAllApps, now, tenantWriteLimit, tenantWriteWindow); wait > 0 {
		return wait
	}
	if wait := takeSlot(t.writes, app, now, limit, window); wait > 0 {
		// Give back the tenant's slot: the write does not happen.
		all := t.writes[tenantWritesAllApps]
		t.writes[tenantWritesAllApps] = all[:len(all)-1]
		return wait
	}
	return 0
}

// writeThrottled answers a request refused by a rate limit as Graph does:
// 429 with Retry-After in whole seconds, rounded up.
func writeThrottled(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
	writeError(w, r, http.StatusTooManyRequests, "TooManyRequests", "Too many requests.")
}

// appKey is the key an app's requests are counted under.
func appKey(app *App) string {
	if app == nil {
		return ""
	}
	return app.ClientID
}
