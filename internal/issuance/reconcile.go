package issuance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

// AuditOptions tune a Reconciler.
type AuditOptions struct {
	// AppID is the portal's Graph app: entries it made are matched to the
	// portal's intents; every other entry was made elsewhere.
	AppID string
	// Delay is how late the audit log may list an entry. Each read goes
	// back this far before the last one, and an action the portal carried
	// out is flagged when no entry shows it after this long. Default 30
	// minutes.
	Delay time.Duration
	// Lookback is how far back the first read goes. Default 7 days, the
	// audit log's retention without a premium licence.
	Lookback time.Duration
	// Pace is the least time between two reads of the audit log: Graph
	// throttles it to about five per ten seconds per app and tenant.
	// Default 2.5 seconds.
	Pace time.Duration
	// Since, when set, is when the audit log began: a tenant made anew
	// (the demo's) holds no entry for what the history recorded before.
	// The first read after it goes back Lookback again, and only actions
	// from it on can be missing from the log.
	Since time.Time
	// ObserveElsewhere is told each pass made elsewhere once its account's
	// privilege is known; ObserveUnaudited each action flagged. Optional.
	ObserveElsewhere func(protected bool)
	ObserveUnaudited func()
}

// The window an entry made by the portal's app is matched in: its intent
// is recorded before the call to Graph (which may take minutes with its
// retries), and the two clocks may differ a little.
const (
	matchWindow = 10 * time.Minute
	matchSkew   = 2 * time.Minute
)

// lateLimit is how long a read keeps looking for the entry of a flagged
// action: Entra's audit log is minutes late, rarely hours.
const lateLimit = 24 * time.Hour

// checkBatch bounds how many accounts one reconciliation checks for
// privilege, so that a burst of passes made elsewhere spreads its reads
// over several rounds.
const checkBatch = 20

// Reconciler reads the directory audit log for passes created and deleted,
// matches them to the portal's own history, and checks the accounts that
// passes made elsewhere went to. Run it on one replica at a time (a
// lease); two would still store each entry once.
type Reconciler struct {
	s   *Service
	log portal.AuditLog
	o   AuditOptions
	// lastRead is when this replica last read the audit log, for Pace.
	lastRead time.Time
}

// NewReconciler returns a Reconciler over svc's directory.
func NewReconciler(svc *Service, log portal.AuditLog, o AuditOptions) *Reconciler {
	if o.Delay <= 0 {
		o.Delay = 30 * time.Minute
	}
	if o.Lookback <= 0 {
		o.Lookback = 7 * 24 * time.Hour
	}
	if o.Pace <= 0 {
		o.Pace = 2500 * time.Millisecond
	}
	if o.ObserveElsewhere == nil {
		o.ObserveElsewhere = func(bool) {}
	}
	if o.ObserveUnaudited == nil {
		o.ObserveUnaudited = func() {}
	}
	return &Reconciler{s: svc, log: log, o: o}
}

// Reconciliation is what one run found.
type Reconciliation struct {
	Pages int
	// New are the entries stored for the first time; Elsewhere those of
	// them made outside the portal.
	New, Elsewhere int
	// Checked and Protected count the accounts checked for privilege, and
	// those found protected.
	Checked, Protected int
	// Unaudited counts the portal's actions newly flagged.
	Unaudited int
}

// Run reads the audit log from where the last complete read began (less
// the delay), stores what is new, checks accounts and flags the portal's
// actions the log does not show. A read that fails leaves the cursor
// where it was, so the next run reads the same span again; what was
// stored stays stored.
func (r *Reconciler) Run(ctx context.Context) (Reconciliation, error) {
	var rep Reconciliation
	cur, err := r.log.AuditCursor(ctx)
	if err != nil {
		return rep, err
	}
	start := r.s.now()
	since := cur.To.Add(-r.o.Delay)
	if cur.To.IsZero() || cur.To.Before(r.o.Since) {
		since = start.Add(-r.o.Lookback)
	}
	cover := portal.AuditCursor{From: cur.From, To: start}
	if cover.From.IsZero() {
		cover.From = since
	}
	flagFrom := cover.From
	if flagFrom.Before(r.o.Since) {
		flagFrom = r.o.Since
	}
	// While an action is flagged, reads go back to it, so that an entry
	// later than the delay still clears it (for a day at most).
	flagged, err := r.log.Unaudited(ctx, 0)
	if err != nil {
		return rep, err
	}
	for _, u := range flagged {
		if at := u.Intent.Time.Add(-matchSkew); at.Before(since) && at.After(start.Add(-lateLimit)) {
			since = at
		}
	}
	if err := r.read(ctx, since, cover, &rep); err != nil {
		if perr := r.log.AuditProblem(ctx, portal.ErrorMessage(err), r.s.now()); perr != nil {
			r.s.log.WarnContext(ctx, "recording the audit log's problem", "err", perr)
		}
		return rep, err
	}
	if err := r.check(ctx, &rep); err != nil {
		return rep, err
	}
	// An action recorded before the delay with no entry by now.
	flagged, err = r.log.FlagUnaudited(ctx, flagFrom, start.Add(-r.o.Delay), r.s.now())
	if err != nil {
		return rep, err
	}
	for _, u := range flagged {
		r.o.ObserveUnaudited()
		r.s.log.WarnContext(ctx, "security event: the directory audit log does not show an action of the portal",
			"record", u.Intent.ID, "action", u.Intent.Action, "target", u.Intent.TargetUPN, "target_id", u.Intent.TargetID,
			"time", u.Intent.Time, "delay", r.o.Delay.String())
	}
	rep.Unaudited = len(flagged)
	return rep, nil
}

// read reads every page of the log since a time, pacing the reads and
// waiting as long as Graph asks when it throttles, and stores each page;
// the last page moves the cursor to cover.
func (r *Reconciler) read(ctx context.Context, since time.Time, cover portal.AuditCursor, rep *Reconciliation) error {
	next := ""
	for {
		page, err := r.page(ctx, since, next)
		if err != nil {
			return err
		}
		rep.Pages++
		if page.Unreadable > 0 {
			r.s.log.WarnContext(ctx, "directory audit entries about passes lacked what the portal needs and were left out", "count", page.Unreadable)
		}
		move := portal.AuditCursor{}
		if page.Next == "" {
			move = cover
		}
		saved, err := r.log.SaveAudit(ctx, page.Entries, r.o.AppID, matchWindow, matchSkew, move)
		if err != nil {
			return err
		}
		rep.New += len(saved)
		for _, p := range saved {
			if p.Elsewhere() {
				rep.Elsewhere++
			}
		}
		if page.Next == "" {
			return nil
		}
		next = page.Next
	}
}

// page reads one page, within the pace, waiting out a 429 (three times at
// most).
func (r *Reconciler) page(ctx context.Context, since time.Time, next string) (portal.AuditPage, error) {
	for attempt := 0; ; attempt++ {
		if err := sleepUntil(ctx, r.lastRead.Add(r.o.Pace)); err != nil {
			return portal.AuditPage{}, err
		}
		r.lastRead = time.Now()
		page, err := r.s.dir.PassAudits(ctx, since, next)
		if portal.ErrorCode(err) != portal.EThrottled || attempt == 2 {
			return page, err
		}
		wait := r.o.Pace
		if pe, ok := errors.AsType[*portal.Error](err); ok && pe.RetryAfter > wait {
			wait = pe.RetryAfter
		}
		r.lastRead = time.Now().Add(wait - r.o.Pace)
	}
}

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// check reads the accounts that passes made elsewhere went to, with the
// same facts and guardrails an issue would use. A check that cannot
// complete stays open with its reason and is tried again next run.
func (r *Reconciler) check(ctx context.Context, rep *Reconciliation) error {
	open, err := r.log.UncheckedPasses(ctx, checkBatch)
	if err != nil {
		return err
	}
	for _, p := range open {
		f, _, err := r.s.facts(ctx, p.TargetID, read{})
		switch {
		case portal.ErrorCode(err) == portal.ENotFound:
			err = r.log.CheckedPass(ctx, p.ID, true, "", "The account no longer exists in the directory.")
		case err != nil:
			err = r.log.CheckedPass(ctx, p.ID, false, "", portal.ErrorMessage(err))
		default:
			privilege := r.s.protected(f)
			if err = r.log.CheckedPass(ctx, p.ID, true, privilege, ""); err != nil {
				break
			}
			rep.Checked++
			r.o.ObserveElsewhere(privilege != "")
			if privilege != "" {
				r.s.notify(ctx, portal.Notice{ID: "pass.elsewhere_protected:" + p.ID, Kind: portal.NoticePassElsewhere,
					Summary: fmt.Sprintf("%s made a Temporary Access Pass outside the portal for %s, a protected account: %s.",
						nameOr(p.By(), "Someone"), nameOr(p.TargetName, p.TargetID), privilege),
					TargetID: p.TargetID, TargetUPN: p.TargetUPN, TargetName: p.TargetName})
			}
			if privilege != "" {
				rep.Protected++
				r.s.log.WarnContext(ctx, "security event: a pass was made outside the portal for a protected account",
					slog.String("audit_id", p.ID), slog.String("target", p.TargetUPN), slog.String("target_id", p.TargetID),
					slog.String("by", p.By()), slog.Time("time", p.Time), slog.String("privilege", privilege))
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}
