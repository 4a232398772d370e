// Package app wires the portal together from its configuration: the
// history store, the Graph client, the OpenID sign-in, the sessions, the
// issuance service and the web handlers. The command and the end-to-end
// tests share this wiring.
package app

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tapportal/portal/internal/auth"
	"github.com/tapportal/portal/internal/bulk"
	"github.com/tapportal/portal/internal/config"
	"github.com/tapportal/portal/internal/graph"
	"github.com/tapportal/portal/internal/handlers"
	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/metrics"
	"github.com/tapportal/portal/internal/notify"
	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/internal/session"
	"github.com/tapportal/portal/internal/store"
	"github.com/tapportal/portal/web/static"
)

// Options are what the environment cannot say.
type Options struct {
	// RootCAs replaces the system roots for outbound TLS (the demo's
	// emulator CA); PORTAL_EXTRA_CA_FILE adds to whichever applies.
	RootCAs *x509.CertPool
	// Now is the clock; default time.Now.
	Now func() time.Time
	// AuditLogSince, when set, is when the tenant's audit log began (the
	// demo's tenant is new each run).
	AuditLogSince time.Time
	// WatchEvery is how often a working pass is looked at again; default
	// 15 minutes (the demo looks every minute).
	WatchEvery time.Duration
	// SampleCohort, when set, writes the demo tenant's sample cohort file.
	SampleCohort func(now time.Time) string
	// Demo, when set, is the demo tenant's mailbox: what the portal sent.
	Demo handlers.DemoMailbox
}

// App is a wired portal.
type App struct {
	Handler http.Handler
	// Metrics serves /metrics; it is also on Handler unless
	// PORTAL_METRICS_ADDR gives it a listener of its own.
	Metrics *metrics.Metrics
	Store   *store.Store
	Graph   *graph.Client
	Service *issuance.Service
	// Reconciler reads the directory audit log and Watcher follows up the
	// passes made; nil when they are off.
	Reconciler *issuance.Reconciler
	Watcher    *issuance.Watcher
	// Sender posts security events to the webhook; nil without one.
	Sender *notify.Sender
	// Bulk issues the rows of confirmed cohort runs; nil when bulk runs
	// are off. wake tells it a run was confirmed.
	Bulk   *bulk.Runner
	wake   chan struct{}
	logger *slog.Logger
	cfg    config.Config

	capsMu sync.Mutex
	caps   []portal.Capability
	// replica names this process to the others, for the settler's lease.
	replica string
}

// New builds the portal. It opens the store and discovers the OpenID
// provider; it does not call Graph.
func New(ctx context.Context, cfg config.Config, logger *slog.Logger, opts Options) (*App, error) {
	help, err := refusalHelp(cfg.RefusalHelp)
	if err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	roots, err := rootCAs(opts.RootCAs, cfg.ExtraCAFile)
	if err != nil {
		return nil, err
	}
	m := metrics.New()
	m.AllowReasons(issuance.RefusalCodes())
	gc, err := NewGraphClient(cfg, roots, opts.Now, m.GraphTransport, m.ObserveGraphItem)
	if err != nil {
		return nil, err
	}
	authn, err := auth.New(ctx, auth.Config{
		Issuer: cfg.OIDCIssuer, ClientID: cfg.OIDCClientID, ClientSecret: cfg.OIDCClientSecret,
		RedirectURL: cfg.PublicURL.String() + "/auth/callback",
		RolesClaim:  cfg.RolesClaim, RoleOperator: cfg.RoleOperator, RoleSupervisor: cfg.RoleSupervisor,
		HTTPClient: httpClient(roots),
	})
	if err != nil {
		return nil, err
	}
	sessions, err := session.New(session.Options{
		Keys: cfg.SessionKeys, Secure: cfg.PublicURL.Scheme == "https",
		IdleTimeout: cfg.SessionIdleTimeout, MaxAge: cfg.SessionMaxAge, Now: opts.Now,
	})
	if err != nil {
		return nil, err
	}
	assets, err := static.New()
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, store.Options{AuditKeys: cfg.AuditKeys})
	if err != nil {
		return nil, err
	}
	history := m.History(st)
	host, _ := os.Hostname()
	replica := host + "/" + session.RandomToken()[:8]
	sender, err := newSender(cfg, st, roots, logger, replica)
	if err != nil {
		st.Close()
		return nil, err
	}
	var notifier portal.Notifier
	if sender != nil {
		notifier = notices{sender}
	}
	ap := approvals(cfg, st)
	var svc *issuance.Service
	var a *App
	if ap != nil && cfg.BulkMaxRows > 0 {
		ap.StartRun = func(ctx context.Context, r portal.ApprovalRequest) error {
			run, err := st.Run(ctx, r.RunID)
			if err != nil {
				return err
			}
			ok, err := bulk.Start(ctx, st, svc, portal.Operator{ID: r.RequesterID, Name: r.RequesterName}, run, r.PublicKey, opts.Now())
			if err == nil && !ok {
				// Started already with this request's key: by this approval,
				// carried out again when it was left approved.
				if run, rerr := st.Run(ctx, r.RunID); rerr == nil && run.State != portal.RunPreview && run.State != portal.RunCancelled &&
					bytes.Equal(run.PublicKey, r.PublicKey) {
					return nil
				}
				return &portal.Error{Code: portal.EConflict, Message: "The run no longer waits to be confirmed: it was discarded, or confirmed already."}
			}
			if ok {
				a.wakeBulk()
			}
			return err
		}
	}
	svc = issuance.New(gc, history, issuance.Options{
		Guardrails: issuance.Guardrails{
			ProtectedRoleIDs: cfg.ProtectedRoleIDs, ProtectedGroupIDs: cfg.ProtectedGroupIDs, EligibleGroupIDs: cfg.EligibleGroupIDs,
			AllowedCustomRoleIDs: cfg.AllowedCustomRoleIDs, ProtectStaff: cfg.ProtectStaff,
		},
		StaffChecks:   cfg.StaffApp() != "",
		OperatorRoles: []string{cfg.RoleOperator, cfg.RoleSupervisor},
		RateLimit:     portal.Limit{Max: cfg.RateLimitCount, Window: cfg.RateLimitWindow},
		MaxAuthAge:    cfg.MaxAuthAge,
		Now:           opts.Now,
		Logger:        logger,
		Observe:       m.ObserveAction,
		LockTTL:       lockTTL(cfg.GraphTimeout),
		SettleWindow:  cfg.GraphSettleWindow,
		Delivery:      delivery(cfg, gc, st, notifier),
		Approvals:     ap,
	})
	issuer, _ := url.Parse(cfg.OIDCIssuer)
	a = &App{Metrics: m, Store: st, Graph: gc, Service: svc, Sender: sender, logger: logger, cfg: cfg, replica: replica}
	if cfg.DirectoryAuditInterval > 0 {
		a.Reconciler = issuance.NewReconciler(svc, st, issuance.AuditOptions{
			AppID: cfg.GraphClientID, Delay: cfg.DirectoryAuditDelay, Lookback: cfg.DirectoryAuditLookback, Since: opts.AuditLogSince,
			ObserveElsewhere: m.ObserveElsewhere, ObserveUnaudited: m.ObserveUnaudited,
		})
		a.Watcher = issuance.NewWatcher(svc, st, issuance.WatchOptions{Lookback: cfg.DirectoryAuditLookback, Every: opts.WatchEvery})
	}
	var bulkPages *handlers.Bulk
	if cfg.BulkMaxRows > 0 {
		limit := portal.Limit{Max: cfg.BulkRateCount, Window: cfg.BulkRateWindow}
		a.Bulk = bulk.NewRunner(svc, st, st, a.replica, bulk.RunnerOptions{Limit: limit, Now: opts.Now})
		a.wake = make(chan struct{}, 1)
		bulkPages = &handlers.Bulk{Runs: st, Limits: bulk.Limits{MaxBytes: int64(cfg.BulkMaxBytes), MaxRows: cfg.BulkMaxRows}, Limit: limit,
			Sample: opts.SampleCohort, Wake: a.wakeBulk}
	}
	var auditLog portal.AuditLog
	var watches portal.PassWatches
	if a.Reconciler != nil {
		auditLog, watches = st, st
	}
	var evs handlers.Events
	if sender != nil {
		evs = events{st: st, sender: sender}
	}
	var reveal *handlers.Reveal
	if slices.Contains(cfg.Channels, string(portal.ChannelLink)) {
		reveal = &handlers.Reveal{Links: st, Recorded: a.recordReveal(history), Now: opts.Now}
	}
	h := handlers.New(handlers.Config{
		Service: svc, History: history, Sessions: sessions, Revoked: st, Auth: authn, Assets: assets, Logger: logger,
		PublicURL: cfg.PublicURL, ProviderOrigin: issuer.Scheme + "://" + issuer.Host,
		Metrics: m, MetricsRoute: cfg.MetricsAddr == "", MetricsToken: cfg.MetricsToken,
		PassInstructions: cfg.PassInstructions, QuickReasons: cfg.QuickReasons, RefusalHelp: help,
		Ready: []handlers.Check{
			{Name: "database", Check: st.Ping},
			{Name: "graph_token", Check: gc.Ping},
		},
		Capabilities: a.Capabilities,
		AuditLog:     auditLog, AuditDelay: cfg.DirectoryAuditDelay, Watches: watches, Review: st,
		Bulk: bulkPages, Reveal: reveal, Demo: opts.Demo, Events: evs,
	})
	a.Handler = h
	return a, nil
}

// refusalHelp is the built-in help for each refusal with the platform
// admin's texts over it; a kind the portal does not have is an error,
// most likely a misspelling.
func refusalHelp(custom map[string]string) (map[string]string, error) {
	help := issuance.RefusalHelp()
	for kind, text := range custom {
		if !slices.Contains(issuance.RefusalCodes(), kind) {
			codes := issuance.RefusalCodes()
			slices.Sort(codes)
			return nil, fmt.Errorf("PORTAL_REFUSAL_HELP_FILE: %q is not a kind of refusal; the kinds are %s", kind, strings.Join(codes, ", "))
		}
		help[kind] = text
	}
	return help, nil
}

// CheckPermissions probes the Graph app's permissions and keeps the
// report for /readyz, logging each check that cannot run.
func (a *App) CheckPermissions(ctx context.Context) []portal.Capability {
	caps := a.Graph.Capabilities(ctx)
	for _, c := range caps {
		switch c.Status {
		case portal.CapabilityMissing:
			a.logger.WarnContext(ctx, "Graph permission missing", "check", c.Check, "permission", c.Permission, "effect", c.Effect, "detail", c.Detail)
		case portal.CapabilityUnchecked:
			a.logger.WarnContext(ctx, "Graph permission not checked", "check", c.Check, "permission", c.Permission, "detail", c.Detail)
		}
	}
	a.capsMu.Lock()
	a.caps = caps
	a.capsMu.Unlock()
	return caps
}

// Capabilities returns the last permission report, or nil before the
// first.
func (a *App) Capabilities() []portal.Capability {
	a.capsMu.Lock()
	defer a.capsMu.Unlock()
	return slices.Clone(a.caps)
}

// lockedGraphCalls is the most Graph operations one request makes, one
// after another, while it holds a target's lock: the facts (the subject's
// batch, then the roles of its groups), the operator's role through a
// group, the manager, the create, the mail to the manager, and the delete
// of a pass whose passcode could not be handed over, with its read-back.
// The notices are sent after the lock is released.
const lockedGraphCalls = 7

// lockTTL is how long a target's lock lasts when its request never
// releases it (its replica stopped): longer than any request holds it,
// each Graph operation taking at most graphTimeout, with time to record.
func lockTTL(graphTimeout time.Duration) time.Duration {
	return lockedGraphCalls*graphTimeout + 30*time.Second
}

// SettleInterval is how often the settler reads Graph for the outcomes
// the history does not know.
const SettleInterval = 10 * time.Second

// Settle runs the settler once if this replica holds the settler's lease:
// one replica at a time reads Graph for unknown and pending outcomes, then
// settles the requests for approval left approved, and records the steps
// of requests the history could not record when they happened.
func (a *App) Settle(ctx context.Context) (int, error) {
	ok, err := a.Store.TryLease(ctx, "settler", a.replica, 3*SettleInterval)
	if err != nil || !ok {
		return 0, err
	}
	n, err := a.Service.Settle(ctx, a.replica)
	if n > 0 {
		a.logger.InfoContext(ctx, "settled outcomes from Graph", "count", n)
	}
	// The requests for approval follow the outcomes just settled.
	m, aerr := a.Service.SettleApprovals(ctx, a.replica)
	if m > 0 {
		a.logger.InfoContext(ctx, "settled requests for approval from the history", "count", m)
	}
	return n, errors.Join(err, aerr)
}

// Reconcile reads the directory audit log once if this replica holds its
// lease, and reports whether it did.
func (a *App) Reconcile(ctx context.Context) (issuance.Reconciliation, bool, error) {
	if a.Reconciler == nil {
		return issuance.Reconciliation{}, false, nil
	}
	// A read paces itself within Graph's throttle, so a long backlog can
	// take minutes: the lease outlasts it.
	ok, err := a.Store.TryLease(ctx, "directory-audit", a.replica, max(2*a.cfg.DirectoryAuditInterval, 10*time.Minute))
	if err != nil || !ok {
		return issuance.Reconciliation{}, false, err
	}
	rep, err := a.Reconciler.Run(ctx)
	if rep.New > 0 || rep.Unaudited > 0 {
		a.logger.InfoContext(ctx, "read the directory audit log", "pages", rep.Pages, "new", rep.New, "elsewhere", rep.Elsewhere,
			"checked", rep.Checked, "protected", rep.Protected, "unaudited", rep.Unaudited)
	}
	// The passes are followed up even when the audit log cannot be read:
	// the portal's own passes need only the methods' permission.
	w, werr := a.Watcher.Run(ctx)
	if w.Failed > 0 {
		a.logger.WarnContext(ctx, "some passes could not be followed up", "looked", w.Looked, "failed", w.Failed)
	}
	return rep, true, errors.Join(err, werr)
}

// reconcileLoop reads the directory audit log every
// PORTAL_DIRECTORY_AUDIT_INTERVAL until ctx ends: on its own, since one
// read can wait on Graph's throttle far longer than the settler may.
func (a *App) reconcileLoop(ctx context.Context) {
	if a.Reconciler == nil {
		return
	}
	tick := time.NewTicker(a.cfg.DirectoryAuditInterval)
	defer tick.Stop()
	for {
		if _, _, err := a.Reconcile(ctx); err != nil && ctx.Err() == nil {
			a.logger.WarnContext(ctx, "reading the directory audit log", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// BulkInterval is how often a replica looks for bulk runs to resume, such
// as one left by a stopped replica.
const BulkInterval = 5 * time.Second

func (a *App) wakeBulk() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// bulkLoop works the confirmed bulk runs as they are confirmed here, and
// every BulkInterval those any replica left, until ctx ends.
func (a *App) bulkLoop(ctx context.Context) {
	if a.Bulk == nil {
		return
	}
	tick := time.NewTicker(BulkInterval)
	defer tick.Stop()
	for {
		if _, err := a.Bulk.Step(ctx); err != nil && ctx.Err() == nil {
			a.logger.ErrorContext(ctx, "bulk runs", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-a.wake:
		}
	}
}

// Checkpoint writes and logs a checkpoint of the history if this replica
// holds the checkpoint lease (or, with final set, because it is stopping),
// and reports whether it did. A checkpoint that finds the chain broken is
// logged as an error.
func (a *App) Checkpoint(ctx context.Context, final bool) (portal.Checkpoint, bool, error) {
	interval := a.cfg.CheckpointInterval
	if !final {
		ok, err := a.Store.TryLease(ctx, "checkpoint", a.replica, 2*interval)
		if err != nil || !ok {
			return portal.Checkpoint{}, false, err
		}
	}
	c, err := a.Store.WriteCheckpoint(ctx, interval)
	if err != nil {
		return portal.Checkpoint{}, false, err
	}
	store.LogCheckpoint(ctx, a.logger, c)
	return c, true, nil
}

// Start writes the checkpoint of the start, before the portal listens,
// so that even a replica stopped at once leaves its start in the log.
func (a *App) Start(ctx context.Context) {
	if _, _, err := a.Checkpoint(ctx, false); err != nil {
		a.logger.ErrorContext(ctx, "audit checkpoint", "err", err)
	}
}

// Maintain runs the settler every SettleInterval, reads the directory
// audit log every PORTAL_DIRECTORY_AUDIT_INTERVAL, writes a checkpoint
// every PORTAL_AUDIT_CHECKPOINT_INTERVAL, probes the Graph app's
// permissions hourly and applies the retention setting daily, until ctx
// ends.
func (a *App) Maintain(ctx context.Context) {
	retain := func() {
		if a.cfg.RetentionDays <= 0 {
			return
		}
		n, err := a.Service.Retain(ctx, a.cfg.RetentionDays)
		if err != nil {
			a.logger.ErrorContext(ctx, "retention", "err", err)
			return
		}
		a.logger.InfoContext(ctx, "retention deleted old history records", "count", n, "days", a.cfg.RetentionDays)
	}
	settle := func() {
		if _, err := a.Settle(ctx); err != nil && ctx.Err() == nil {
			a.logger.ErrorContext(ctx, "settling outcomes", "err", err)
		}
	}
	checkpoint := func() {
		if _, _, err := a.Checkpoint(ctx, false); err != nil && ctx.Err() == nil {
			a.logger.ErrorContext(ctx, "audit checkpoint", "err", err)
		}
	}
	expire := func() {
		if _, err := a.Service.ExpireApprovals(ctx); err != nil && ctx.Err() == nil {
			a.logger.ErrorContext(ctx, "expiring requests for approval", "err", err)
		}
	}
	purge := func() {
		// A link's sealed passcode is useless once it expires: forget it.
		if _, err := a.Store.PurgeRevealLinks(ctx, time.Now()); err != nil && ctx.Err() == nil {
			a.logger.ErrorContext(ctx, "forgetting expired one-time links", "err", err)
		}
		// Likewise a passcode sealed for a requester whose browser can no
		// longer hold the key to it.
		if a.Service.ApprovalsOn() {
			if _, err := a.Store.PurgeSealedApprovals(ctx, time.Now().Add(-a.Service.ApprovalKeyLifetime())); err != nil && ctx.Err() == nil {
				a.logger.ErrorContext(ctx, "forgetting sealed passcodes nobody can open", "err", err)
			}
		}
	}
	go a.reconcileLoop(ctx)
	settle()
	retain()
	purge()
	a.CheckPermissions(ctx)
	// Start-up (migrations, compressing the static files, the first
	// settling and probes) leaves free heap behind: hand it back to the
	// system now rather than as the scavenger gets round to it, so that
	// an idle portal holds only what it uses.
	debug.FreeOSMemory()
	tick := time.NewTicker(SettleInterval)
	defer tick.Stop()
	lastHour, lastDay, lastCheckpoint := time.Now(), time.Now(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			settle()
			expire()
			if now.Sub(lastCheckpoint) >= a.cfg.CheckpointInterval {
				lastCheckpoint = now
				checkpoint()
			}
			if now.Sub(lastHour) >= time.Hour {
				lastHour = now
				a.CheckPermissions(ctx)
				purge()
			}
			if now.Sub(lastDay) >= 24*time.Hour {
				lastDay = now
				retain()
			}
		}
	}
}

// NewGraphClient builds the Graph client the configuration describes.
// roots are the trusted roots (nil: the system's); wrap and item, which
// observe the Graph requests and the items of batches, may be nil.
func NewGraphClient(cfg config.Config, roots *x509.CertPool, now func() time.Time, wrap func(http.RoundTripper) http.RoundTripper, item func(method, path string, status int)) (*graph.Client, error) {
	certs, key, err := graph.LoadCertificate(cfg.GraphCertFile, cfg.GraphCertPassword)
	if err != nil {
		return nil, fmt.Errorf("PORTAL_GRAPH_CERT_FILE %s: %w", cfg.GraphCertFile, err)
	}
	return graph.New(graph.Config{
		TenantID: cfg.GraphTenantID, ClientID: cfg.GraphClientID, Certificate: certs, Key: key,
		Cloud: cfg.GraphCloud, BaseURL: cfg.GraphBaseURL, AuthorityURL: cfg.GraphAuthorityURL,
		RootCAs: roots, Timeout: cfg.GraphTimeout, PolicyTTL: cfg.GraphPolicyTTL, Now: now,
		StaffAppID: cfg.StaffApp(), StaffTTL: cfg.StaffCacheTTL,
		WrapTransport: wrap, ObserveBatchItem: item,
	})
}

func rootCAs(base *x509.CertPool, extraFile string) (*x509.CertPool, error) {
	if extraFile == "" {
		return base, nil
	}
	pool := base
	if pool == nil {
		var err error
		if pool, err = x509.SystemCertPool(); err != nil {
			pool = x509.NewCertPool()
		}
	} else {
		pool = pool.Clone()
	}
	pem, err := os.ReadFile(extraFile)
	if err != nil {
		return nil, fmt.Errorf("PORTAL_EXTRA_CA_FILE: %w", err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("PORTAL_EXTRA_CA_FILE %s holds no PEM certificate", extraFile)
	}
	return pool, nil
}

func httpClient(roots *x509.CertPool) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if roots != nil {
		tr.TLSClientConfig.RootCAs = roots
	}
	return &http.Client{Transport: tr, Timeout: 15 * time.Second}
}

// ShutdownTimeout bounds how long requests in flight may take to finish
// after a stop signal.
const ShutdownTimeout = 20 * time.Second

// Serve serves on ln until ctx ends, then stops accepting and lets
// requests in flight finish, within ShutdownTimeout.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Long enough for a Graph call with its retries.
		WriteTimeout:   90 * time.Second,
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	bulkDone := make(chan struct{})
	go func() { defer close(bulkDone); a.bulkLoop(ctx) }()
	defer func() { <-bulkDone }()
	if a.Sender != nil {
		// Every replica sends the security events due; each is leased to
		// one sender at a time.
		sent := make(chan struct{})
		go func() { defer close(sent); a.Sender.Run(ctx) }()
		defer func() { <-sent }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.logger.Info("shutting down", "timeout", ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// Close writes a last checkpoint, so that the log's last word on the
// history is its head when this replica stopped, and releases the store.
func (a *App) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := a.Checkpoint(ctx, true); err != nil {
		a.logger.Error("audit checkpoint", "err", err)
	}
	return a.Store.Close()
}
