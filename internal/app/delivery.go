package app

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/tapportal/portal/internal/config"
	"github.com/tapportal/portal/internal/graph"
	"github.com/tapportal/portal/internal/issuance"
	"github.com/tapportal/portal/internal/notify"
	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/internal/store"
	"github.com/tapportal/portal/web/templates"
)

// delivery is how passcodes reach users and who is told, from cfg.
func delivery(cfg config.Config, gc *graph.Client, st *store.Store, notifier portal.Notifier) issuance.Delivery {
	d := issuance.Delivery{
		Mailer: gc, From: cfg.MailFrom,
		LinkBase: cfg.PublicURL.String(), LinkTTL: cfg.LinkTTL,
		Instructions: cfg.PassInstructions, NoticeUser: cfg.NoticeUser, NoticeSecurity: cfg.NoticeSecurity, Contact: cfg.NoticeContact,
		Notifier: notifier, RefusalAlert: issuance.RefusalAlert{Count: cfg.RefusalAlertCount, Window: cfg.RefusalAlertWindow},
	}
	for _, name := range cfg.Channels {
		c, _ := portal.ParseChannel(name)
		d.Channels = append(d.Channels, c)
		if c == portal.ChannelLink {
			d.Links = st
		}
	}
	return d
}

// approvals are four-eyes approval from cfg, or nil when no rule sends a
// pass to it.
func approvals(cfg config.Config, st *store.Store) *issuance.Approvals {
	if cfg.Approval.IsZero() {
		return nil
	}
	return &issuance.Approvals{Rules: cfg.Approval, TTL: cfg.ApprovalTTL, Store: st}
}

// newSender is the webhook's sender, or nil when no webhook is set.
func newSender(cfg config.Config, st *store.Store, roots *x509.CertPool, logger *slog.Logger, owner string) (*notify.Sender, error) {
	if cfg.WebhookURL == "" {
		return nil, nil
	}
	var secrets [][]byte
	for i, s := range cfg.WebhookSecrets {
		b, err := notify.ParseSecret(s)
		if err != nil {
			return nil, fmt.Errorf("PORTAL_WEBHOOK_SECRET: secret %d: %w", i+1, err)
		}
		secrets = append(secrets, b)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig.RootCAs = roots
	s, err := notify.New(st, notify.Config{URL: cfg.WebhookURL, Secrets: secrets, MaxAttempts: cfg.WebhookMaxAttempts,
		Backoff: cfg.WebhookBackoff, Timeout: cfg.WebhookTimeout, Transport: tr, Logger: logger.With("component", "webhook"), Owner: owner})
	if err != nil {
		return nil, fmt.Errorf("PORTAL_WEBHOOK_*: %w", err)
	}
	return s, nil
}

// notices hands the service's notices to the webhook's sender.
type notices struct{ s *notify.Sender }

// Notify implements portal.Notifier. Names from the directory may hold
// any text: the event's limits are applied here, so that a notice is
// never lost to a long or odd name.
func (n notices) Notify(ctx context.Context, x portal.Notice) error {
	return n.s.Notify(ctx, notify.Event{ID: x.ID, Kind: notify.Kind(x.Kind), Summary: portal.Clip(x.Summary, notify.MaxSummaryLength),
		Details: notify.Details{
			TargetID: portal.Clip(x.TargetID, notify.MaxDetailLength), TargetUPN: portal.Clip(x.TargetUPN, notify.MaxDetailLength),
			TargetName: portal.Clip(x.TargetName, notify.MaxDetailLength), OperatorID: portal.Clip(x.OperatorID, notify.MaxDetailLength),
			OperatorName: portal.Clip(x.OperatorName, notify.MaxDetailLength), RecordID: x.RecordID, RunID: portal.Clip(x.RunID, notify.MaxDetailLength),
			Counts: x.Counts,
		}})
}

// recordReveal records in the history that a one-time link was opened,
// with the names and the pass of the issue whose passcode it held.
func (a *App) recordReveal(history portal.History) func(ctx context.Context, link portal.RevealLink) error {
	return func(ctx context.Context, link portal.RevealLink) error {
		e := portal.Event{Action: portal.ActionReveal, Outcome: portal.OutcomeSuccess, OperatorID: link.OperatorID, TargetID: link.TargetID,
			Channel: portal.ChannelLink, RequestID: "link:" + link.ID,
			Detail: fmt.Sprintf("The one-time link made at %s was opened and its passcode shown.", link.Created.UTC().Format(time.RFC3339))}
		if link.EventID != 0 {
			if issue, err := history.Get(ctx, link.EventID); err == nil {
				e.OperatorName, e.TargetUPN, e.TargetName, e.TAPID = issue.OperatorName, issue.TargetUPN, issue.TargetName, issue.TAPID
				e.Detail += fmt.Sprintf(" It was made for history record %d.", issue.ID)
			}
		}
		_, err := history.Record(ctx, e)
		return err
	}
}

// events shows supervisors the security events' deliveries: the store
// keeps them, the sender sends a dead one again.
type events struct {
	st     *store.Store
	sender *notify.Sender
}

// maxDeadShown bounds the dead events a page lists.
const maxDeadShown = 100

// Counts implements handlers.Events.
func (e events) Counts(ctx context.Context) (templates.EventCounts, error) {
	c, err := e.st.DeliveryCounts(ctx)
	return templates.EventCounts{Pending: c.Pending, Delivered: c.Delivered, Dead: c.Dead, OldestPending: c.OldestPending}, err
}

// Dead implements handlers.Events, with each event's summary read from
// the body that was posted.
func (e events) Dead(ctx context.Context) ([]templates.DeadEvent, error) {
	ds, err := e.st.ListDead(ctx, maxDeadShown)
	if err != nil {
		return nil, err
	}
	out := make([]templates.DeadEvent, 0, len(ds))
	for _, d := range ds {
		var ev notify.Event
		summary := d.EventID
		if json.Unmarshal(d.Payload, &ev) == nil && ev.Summary != "" {
			summary = ev.Summary
		}
		out = append(out, templates.DeadEvent{ID: d.ID, Kind: d.Kind, Summary: summary, Created: d.Created, Attempts: d.Attempts,
			LastStatus: d.LastStatus, LastError: d.LastError, LastTried: d.LastAttempt})
	}
	return out, nil
}

// Requeue implements handlers.Events.
func (e events) Requeue(ctx context.Context, id int64) (bool, error) {
	return e.sender.Requeue(ctx, id)
}
