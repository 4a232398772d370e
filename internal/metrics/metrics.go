// Package metrics defines the portal's Prometheus metrics and the small
// adapters that feed them: HTTP requests, Graph calls (with retries and
// throttling), pass actions and refusals, and history store latency.
package metrics

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tapportal/portal/internal/portal"
)

// Metrics holds every collector, registered on its own registry so that
// tests and several portals in one process never collide.
type Metrics struct {
	Registry *prometheus.Registry

	httpRequests  *prometheus.CounterVec
	httpDuration  *prometheus.HistogramVec
	graphCalls    *prometheus.CounterVec
	graphDuration *prometheus.HistogramVec
	graphRetries  *prometheus.CounterVec
	graphThrottle *prometheus.CounterVec
	actions       *prometheus.CounterVec
	storeDuration *prometheus.HistogramVec
	elsewhere     *prometheus.CounterVec
	unaudited     prometheus.Counter

	// reasons are the refusal codes a label may carry; any other is
	// counted as "other", so that label values stay a known few.
	reasons map[string]bool
}

// New creates and registers the collectors, with the Go and process
// collectors beside them.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tap_portal_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tap_portal_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method"}),
		graphCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tap_portal_graph_requests_total", Help: "Microsoft Graph requests (each attempt, and each item of a batch) by operation and status.",
		}, []string{"operation", "status"}),
		graphDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tap_portal_graph_request_duration_seconds", Help: "Microsoft Graph request latency by operation (each attempt).",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"operation"}),
		graphRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tap_portal_graph_retries_total", Help: "Microsoft Graph requests that were retries, by operation.",
		}, []string{"operation"}),
		graphThrottle: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tap_portal_graph_throttled_total", Help: "Microsoft Graph replies with status 429, by operation.",
		}, []string{"operation"}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tap_portal_tap_actions_total", Help: "Pass actions by action (issue, revoke), outcome (success, refused, failed) and refusal reason.",
		}, []string{"action", "outcome", "reason"}),
		storeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tap_portal_store_operation_duration_seconds", Help: "History store latency by operation and result.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"operation", "result"}),
		elsewhere: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tap_portal_passes_made_elsewhere_total",
			Help: "Passes the directory audit log shows made outside the portal, by whether the account is one the portal protects.",
		}, []string{"protected"}),
		unaudited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tap_portal_actions_unaudited_total",
			Help: "Passes the portal issued or revoked that the directory audit log did not show within its delay.",
		}),
	}
	m.Registry.MustRegister(m.httpRequests, m.httpDuration, m.graphCalls, m.graphDuration, m.graphRetries,
		m.graphThrottle, m.actions, m.storeDuration, m.elsewhere, m.unaudited,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format; with a token,
// only to requests that carry it as a bearer token.
func (m *Metrics) Handler(token string) http.Handler {
	h := promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "metrics need the bearer token set in PORTAL_METRICS_TOKEN", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// AllowReasons sets the refusal codes the action metrics name; others are
// counted as "other".
func (m *Metrics) AllowReasons(codes []string) {
	m.reasons = map[string]bool{"": true}
	for _, c := range codes {
		m.reasons[c] = true
	}
}

// httpMethods are the methods a label names; any other request method
// (a client may send any token) is counted as OTHER.
var httpMethods = map[string]bool{http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true}

// ObserveHTTP records one HTTP request. route is the route pattern, never
// the raw path, and the method and status are bounded, so that no request
// can add label values: the set is the routes times these few.
func (m *Metrics) ObserveHTTP(route, method string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	if !httpMethods[method] {
		method = "OTHER"
	}
	if status < 100 || status > 599 {
		status = 0
	}
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(route, method).Observe(d.Seconds())
}

// ObserveElsewhere counts a pass made outside the portal, once its
// account's privilege is known.
func (m *Metrics) ObserveElsewhere(protected bool) {
	m.elsewhere.WithLabelValues(strconv.FormatBool(protected)).Inc()
}

// ObserveUnaudited counts an action of the portal the audit log did not
// show in time.
func (m *Metrics) ObserveUnaudited() { m.unaudited.Inc() }

// ObserveAction records the outcome of an issue or revoke; reason is the
// refusal code, empty otherwise.
func (m *Metrics) ObserveAction(action portal.Action, outcome portal.Outcome, reason string) {
	if m.reasons != nil && !m.reasons[reason] {
		reason = "other"
	}
	switch outcome {
	case portal.OutcomePending, portal.OutcomeSuccess, portal.OutcomeRefused, portal.OutcomeFailed, portal.OutcomeUnknown:
	default:
		outcome = "other"
	}
	m.actions.WithLabelValues(string(action), string(outcome), reason).Inc()
}

// lastSegment reports whether path ends with prefix followed by one
// non-empty segment ("/users/" and an id).
func lastSegment(path, prefix string) bool {
	i := strings.LastIndex(path, prefix)
	if i < 0 {
		return false
	}
	rest := path[i+len(prefix):]
	return rest != "" && !strings.Contains(rest, "/")
}

// GraphOperation names the Graph operation a request path belongs to. It
// runs for every Graph request and every item of a batch, so it compares
// strings rather than running expressions.
func GraphOperation(method, path string) string {
	has, ends := strings.Contains, strings.HasSuffix
	switch {
	case ends(path, "/authentication/temporaryAccessPassMethods") || lastSegment(path, "/authentication/temporaryAccessPassMethods/"):
		if has(path, "/users/") {
			return "tap_" + strings.ToLower(method)
		}
	case has(path, "/users/") && ends(path, "/authentication/methods"):
		return "methods"
	case has(path, "/users/") && has(path, "/transitiveMemberOf/"):
		return "groups"
	case has(path, "/users/") && ends(path, "/checkMemberGroups"):
		return "member_check"
	case has(path, "/users/") && ends(path, "/sendMail"):
		return "send_mail"
	case has(path, "/users/") && ends(path, "/manager"):
		return "manager"
	case ends(path, "/roleManagement/directory/roleAssignments"):
		return "role_assignments"
	case ends(path, "/roleManagement/directory/roleEligibilityScheduleInstances"):
		return "role_eligibilities"
	case has(path, "/roleManagement/directory/roleDefinitions"):
		return "role_definitions"
	case ends(path, "/privilegedAccess/group/eligibilityScheduleInstances"):
		return "pim_groups"
	case has(path, "/servicePrincipals"):
		return "staff"
	case has(path, "/administrativeUnits/"):
		return "units"
	case lastSegment(path, "/groups/"):
		return "group"
	case ends(path, "/$batch"):
		return "batch"
	case lastSegment(path, "/users/"):
		return "user"
	case ends(path, "/users"):
		return "search"
	case has(path, "/policies/"):
		return "policy"
	case has(path, "/auditLogs/"):
		return "audit"
	case ends(path, "/oauth2/v2.0/token"):
		return "token"
	}
	return "other"
}

// GraphTransport wraps an HTTP transport to observe every Graph attempt.
// The SDK's retry handler marks retries with a Retry-Attempt header.
func (m *Metrics) GraphTransport(next http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		op := GraphOperation(req.Method, req.URL.Path)
		if req.Header.Get("Retry-Attempt") != "" {
			m.graphRetries.WithLabelValues(op).Inc()
		}
		start := time.Now()
		resp, err := next.RoundTrip(req)
		m.graphDuration.WithLabelValues(op).Observe(time.Since(start).Seconds())
		status := "error"
		if err == nil {
			status = strconv.Itoa(resp.StatusCode)
			if resp.StatusCode == http.StatusTooManyRequests {
				m.graphThrottle.WithLabelValues(op).Inc()
			}
		}
		m.graphCalls.WithLabelValues(op, status).Inc()
		return resp, err
	})
}

// ObserveGraphItem counts one item of a Graph $batch reply under its own
// operation: Graph throttles each item on its own, so a 429 inside a
// batch that answered 200 is counted as throttled too. The batch itself is
// counted, and timed, by GraphTransport as "batch".
func (m *Metrics) ObserveGraphItem(method, path string, status int) {
	op := GraphOperation(method, path)
	if status == http.StatusTooManyRequests {
		m.graphThrottle.WithLabelValues(op).Inc()
	}
	label := "other"
	if status >= 100 && status <= 599 {
		label = strconv.Itoa(status)
	}
	m.graphCalls.WithLabelValues(op, label).Inc()
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// History wraps a history store to time each call.
func (m *Metrics) History(h portal.History) portal.History { return timedHistory{h, m} }

type timedHistory struct {
	h portal.History
	m *Metrics
}

func (t timedHistory) observe(op string, start time.Time, err error) {
	result := "ok"
	if err != nil {
		result = portal.ErrorCode(err)
	}
	t.m.storeDuration.WithLabelValues(op, result).Observe(time.Since(start).Seconds())
}

func (t timedHistory) Record(ctx context.Context, e portal.Event) (out portal.Event, err error) {
	defer func(start time.Time) { t.observe("record", start, err) }(time.Now())
	return t.h.Record(ctx, e)
}

func (t timedHistory) RecordIntent(ctx context.Context, e portal.Event, o portal.IntentOptions) (out portal.Event, err error) {
	defer func(start time.Time) { t.observe("record_intent", start, err) }(time.Now())
	return t.h.RecordIntent(ctx, e, o)
}

func (t timedHistory) Submission(ctx context.Context, id string) (out portal.SubmissionRecord, err error) {
	defer func(start time.Time) { t.observe("submission", start, err) }(time.Now())
	return t.h.Submission(ctx, id)
}

func (t timedHistory) LockTarget(ctx context.Context, l portal.TargetLock) (out portal.TargetLock, err error) {
	defer func(start time.Time) { t.observe("lock_target", start, err) }(time.Now())
	return t.h.LockTarget(ctx, l)
}

func (t timedHistory) UnlockTarget(ctx context.Context, l portal.TargetLock) (err error) {
	defer func(start time.Time) { t.observe("unlock_target", start, err) }(time.Now())
	return t.h.UnlockTarget(ctx, l)
}

func (t timedHistory) TryLease(ctx context.Context, name, holder string, ttl time.Duration) (ok bool, err error) {
	defer func(start time.Time) { t.observe("lease", start, err) }(time.Now())
	return t.h.TryLease(ctx, name, holder, ttl)
}

func (t timedHistory) List(ctx context.Context, f portal.EventFilter) (out []portal.Event, err error) {
	defer func(start time.Time) { t.observe("list", start, err) }(time.Now())
	return t.h.List(ctx, f)
}

func (t timedHistory) Get(ctx context.Context, id int64) (out portal.Event, err error) {
	defer func(start time.Time) { t.observe("get", start, err) }(time.Now())
	return t.h.Get(ctx, id)
}

func (t timedHistory) Export(ctx context.Context, f portal.EventFilter, fn func(portal.Event) error) (err error) {
	defer func(start time.Time) { t.observe("export", start, err) }(time.Now())
	return t.h.Export(ctx, f, fn)
}

func (t timedHistory) Stats(ctx context.Context, f portal.EventFilter) (out portal.Stats, err error) {
	defer func(start time.Time) { t.observe("stats", start, err) }(time.Now())
	return t.h.Stats(ctx, f)
}

func (t timedHistory) Unsettled(ctx context.Context, olderThan time.Time) (out []portal.Event, err error) {
	defer func(start time.Time) { t.observe("unsettled", start, err) }(time.Now())
	return t.h.Unsettled(ctx, olderThan)
}

func (t timedHistory) DeleteBefore(ctx context.Context, before time.Time, by portal.Event) (n int64, err error) {
	defer func(start time.Time) { t.observe("delete_before", start, err) }(time.Now())
	return t.h.DeleteBefore(ctx, before, by)
}

func (t timedHistory) Verify(ctx context.Context) (out portal.Verification, err error) {
	defer func(start time.Time) { t.observe("verify", start, err) }(time.Now())
	return t.h.Verify(ctx)
}

func (t timedHistory) ChainStatus(ctx context.Context) (out portal.ChainStatus, err error) {
	defer func(start time.Time) { t.observe("chain_status", start, err) }(time.Now())
	return t.h.ChainStatus(ctx)
}
