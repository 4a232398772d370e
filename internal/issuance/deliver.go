package issuance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tapportal/portal/internal/approval"
	"github.com/tapportal/portal/internal/portal"
	"github.com/tapportal/portal/internal/reveal"
)

// Delivery says how a passcode may reach its user, and who is told that
// a pass was issued.
type Delivery struct {
	// Channels are the channels an operator may choose, the default
	// first; empty means the passcode is only read out (ChannelRead).
	Channels []portal.Channel
	// Mailer reads managers and sends mail as From, the portal's mailbox:
	// for ChannelManager and the notices by mail.
	Mailer portal.Mailer
	From   string
	// Links keep one-time links, which are under LinkBase (the portal's
	// public URL) and last LinkTTL, never past the pass's end: for
	// ChannelLink.
	Links    portal.RevealLinks
	LinkBase string
	LinkTTL  time.Duration
	// Instructions say what to do with a pass, in a mail to a manager.
	Instructions string
	// NoticeUser mails the user when a pass is issued for them, if they
	// have a mailbox; NoticeSecurity are addresses told of every pass.
	NoticeUser     bool
	NoticeSecurity []string
	// Contact is who to call about a pass nobody asked for, in notices.
	Contact string
	// Notifier, when set, is told of security events: every pass
	// issued, passes made elsewhere for protected accounts, bulk runs,
	// and operators refused again and again (RefusalAlert).
	Notifier     portal.Notifier
	RefusalAlert RefusalAlert
}

// channels returns the channels offered, the default first.
func (d Delivery) channels() []portal.Channel {
	if len(d.Channels) == 0 {
		return []portal.Channel{portal.ChannelRead}
	}
	return d.Channels
}

// Channels returns the channels an operator may choose, the default first.
func (s *Service) Channels() []portal.Channel { return s.delivery.channels() }

// DefaultChannel is the channel a form starts with.
func (s *Service) DefaultChannel() portal.Channel { return s.delivery.channels()[0] }

// Delivered says how an issued passcode reached its user, and what the
// notices could not do.
type Delivered struct {
	Channel portal.Channel
	// Recipient names who the passcode was mailed to (ChannelManager).
	Recipient string
	// Link is the one-time link's address, key included: shown once to
	// the operator, never stored (ChannelLink). LinkExpires is when it
	// stops working.
	Link        portal.Secret
	LinkExpires time.Time
	// NoticeProblems say which notices could not be sent.
	NoticeProblems []string
	// Sealed is, for the issue of an approved request, what reaches its
	// requester: the passcode to read out, or the link to send, sealed
	// to the requester's key (approval.Seal); nil otherwise, and for a
	// passcode mailed to the manager. The result then holds neither in
	// the clear: the approver never sees them.
	Sealed []byte
}

// checkChannel checks, before anything is recorded or made, that the
// request's channel is offered and can reach the user: for a mail to the
// manager, that the user has a manager who can receive it. A channel that
// cannot is refused and recorded, with the field to change; a manager
// that cannot be read refuses like any check that cannot be completed.
func (s *Service) checkChannel(ctx context.Context, p *pendingIssue) error {
	op, f, req := p.op, p.f, &p.req
	if req.Channel == "" {
		req.Channel = s.DefaultChannel()
	}
	problem := ""
	switch {
	case !slices.Contains(s.delivery.channels(), req.Channel):
		problem = "This way of handing over a pass is not offered here: choose another."
	case req.Channel == portal.ChannelManager:
		m, err := s.delivery.Mailer.Manager(ctx, f.user.ID)
		if err != nil {
			s.refuse(ctx, op, f.user, *req, Refusal{RefuseCheckFailed, "The user's manager could not be read: " + portal.ErrorMessage(err)}, portal.RequestID(err))
			return err
		}
		problem = managerProblem(f.user, m)
		p.manager = m
	}
	if problem == "" {
		return nil
	}
	s.refuse(ctx, op, f.user, *req, Refusal{RefuseChannel, problem}, "")
	return FieldErrors{"channel": problem}
}

// managerProblem says why m cannot receive u's passcode, or "".
func managerProblem(u portal.User, m *portal.User) string {
	switch {
	case m == nil:
		return u.DisplayName + " has no manager in the directory: choose another way to hand over the pass."
	case strings.EqualFold(m.ID, u.ID):
		return u.DisplayName + " is their own manager in the directory: choose another way to hand over the pass."
	case !m.AccountEnabled:
		return u.DisplayName + "'s manager, " + m.DisplayName + ", has a disabled account: choose another way to hand over the pass."
	case !portal.IsMailAddress(m.Mail):
		return u.DisplayName + "'s manager, " + m.DisplayName + ", has no mail address: choose another way to hand over the pass."
	}
	return ""
}

// deliver hands the new pass's passcode over by the request's channel and
// fills in the outcome: what was sent, to whom. For an approved request,
// what reaches the requester is sealed to their key here, before the
// outcome is recorded, so that a passcode that cannot be sealed is as
// undeliverable as a mail that was refused. A passcode that cannot be
// handed over gives a *deliveryError: nobody holds it, and the caller
// revokes the pass.
func (s *Service) deliver(ctx context.Context, p *pendingIssue, issued portal.IssuedTAP, outcome *portal.Event) (Delivered, *deliveryError) {
	d := Delivered{Channel: p.req.Channel}
	outcome.Channel = d.Channel
	switch d.Channel {
	case portal.ChannelManager:
		m := p.manager
		d.Recipient = m.DisplayName + " <" + m.Mail + ">"
		rid, err := s.delivery.Mailer.SendMail(ctx, s.delivery.From, s.managerMail(p, issued))
		switch {
		case err != nil && portal.Unsure(err):
			return d, &deliveryError{how: "may not have reached the manager: Microsoft Graph did not confirm the mail", cause: err}
		case err != nil:
			return d, &deliveryError{how: "could not be mailed to the manager", cause: err}
		}
		outcome.Detail = fmt.Sprintf("Passcode mailed to the manager, %s (Graph request %s).", d.Recipient, rid)
	case portal.ChannelLink:
		now := s.now()
		link := portal.RevealLink{TargetID: p.f.user.ID, OperatorID: p.op.ID, Created: now,
			Expires: earliest(now.Add(s.delivery.LinkTTL), issued.End())}
		made, secret, err := reveal.Make(ctx, s.delivery.Links, s.delivery.LinkBase, issued.Passcode, link)
		if err != nil {
			return d, &deliveryError{how: "could not be sealed behind a link", cause: err}
		}
		d.Link, d.LinkExpires = secret, made.Expires
		outcome.Detail = "Passcode sealed behind one-time link " + made.ID + ", which works until " + made.Expires.UTC().Format(time.RFC3339) + "."
		p.link = made.ID
	}
	if r := p.approved; r != nil && d.Channel != portal.ChannelManager {
		secret := issued.Passcode
		if d.Channel == portal.ChannelLink {
			secret = d.Link
		}
		sealed, err := approval.Seal(r.PublicKey, r.ID, secret.Reveal())
		if err != nil {
			return d, &deliveryError{how: "could not be sealed to the requester's key", cause: &portal.Error{Code: portal.EInternal,
				Message: "The requester's key cannot seal it.", Err: err}}
		}
		// The approver never sees what only the requester may open.
		d.Sealed, d.Link = sealed, portal.Secret{}
	}
	return d, nil
}

// deliveryError says why a new pass's passcode reached nobody.
type deliveryError struct {
	// how completes "its passcode …": what went wrong with the channel.
	how   string
	cause error
}

func (e *deliveryError) Error() string {
	return fmt.Sprintf("The pass was made, but its passcode %s (%s).", e.how, portal.ErrorMessage(e.cause))
}

func (e *deliveryError) Unwrap() error { return e.cause }

// undeliverable revokes a pass whose passcode could not be handed over,
// through the recorded path (issue is its recorded outcome), and says
// what came of it. Nobody holds the passcode, so the pass is not left
// standing; a mail that may have gone out carries a passcode that no
// longer works.
func (s *Service) undeliverable(ctx context.Context, p *pendingIssue, issue portal.Event, cause *deliveryError) error {
	r := revocation{op: p.op, user: p.f.user, tapID: issue.TAPID, requestID: p.req.RequestID, privilege: s.protected(p.f),
		reason: "The passcode could not be handed over, so nobody holds it: the portal revoked the pass."}
	if issue.ID != 0 {
		r.detail = fmt.Sprintf("Revokes the pass of history record %d.", issue.ID)
	}
	// The revocation goes on when the request's context has ended: a
	// pass nobody holds must not stay because the browser left.
	err := s.revokePass(context.WithoutCancel(ctx), r)
	msg := cause.Error()
	switch {
	case err == nil:
		msg += " The portal revoked the pass. Issue another, by this channel or another."
	case errors.Is(err, ErrRevokeUnknown):
		msg += " The portal asked Microsoft Graph to revoke it, and Graph did not confirm: the portal is checking and records the answer within a minute. Look at the user's page then, and revoke the pass there if it still shows."
	default:
		msg += " The portal could not revoke it (" + portal.ErrorMessage(err) + "): revoke it from the user's page."
	}
	return &portal.Error{Code: portal.EUnavailable, Message: msg, Err: cause}
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// when writes a time for a mail, whose reader's zone the portal does not
// know: in UTC, saying so.
func when(t time.Time) string { return t.UTC().Format("Mon 2 Jan 2006, 15:04 UTC") }

// use says how a pass can be used.
func use(t portal.TAP) string {
	if t.OneTime {
		return "It works for one sign-in."
	}
	return "It works for any number of sign-ins until it expires."
}

// managerMail is the mail that hands a passcode to the user's manager.
func (s *Service) managerMail(p *pendingIssue, issued portal.IssuedTAP) portal.Mail {
	u, m := p.f.user, p.manager
	var b strings.Builder
	fmt.Fprintf(&b, "Hello %s,\n\n", m.DisplayName)
	fmt.Fprintf(&b, "%s at the service desk issued a Temporary Access Pass for %s (%s), who reports to you. ", p.op.Name, u.DisplayName, u.UserPrincipalName)
	b.WriteString("Please give it to them yourself, in person or on a call you placed; do not forward this mail.\n\n")
	fmt.Fprintf(&b, "Temporary Access Pass: %s\n\n", issued.Passcode.Reveal())
	fmt.Fprintf(&b, "It works from %s until %s. %s\n", when(issued.Start), when(issued.End()), use(issued.TAP))
	if s.delivery.Instructions != "" {
		fmt.Fprintf(&b, "\nHow to use it: %s\n", s.delivery.Instructions)
	}
	if p.req.Ticket != "" {
		fmt.Fprintf(&b, "\nTicket: %s\n", p.req.Ticket)
	}
	if s.delivery.Contact != "" {
		fmt.Fprintf(&b, "\nIf you did not expect this, call %s.\n", s.delivery.Contact)
	}
	return portal.Mail{
		To:      []portal.Address{{Address: m.Mail, Name: m.DisplayName}},
		Subject: "Temporary Access Pass for " + u.DisplayName,
		Text:    portal.NewSecret(b.String()),
	}
}

// noticeBudget bounds the notices of one pass, together: they are sent
// after the passcode was handed over and the target released, and the
// page that shows the pass waits for them only this long.
const noticeBudget = 15 * time.Second

// notices tell the user, the security addresses and the notifier that a
// pass was issued. None holds the passcode. They are sent once the
// outcome is recorded and the target's lock released, at the same time
// and within noticeBudget, even when the request that issued the pass has
// ended, and never undo it: what could not be sent is returned, for the
// operator's page, and logged.
func (s *Service) notices(ctx context.Context, p *pendingIssue, issued portal.IssuedTAP, outcome portal.Event, d Delivered) []string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), noticeBudget)
	defer cancel()
	// One slot per notice, so that the problems come in the same order
	// whichever is sent first.
	var problems [3]string
	var wg sync.WaitGroup
	u := p.f.user
	how := map[portal.Channel]string{
		portal.ChannelRead:    "The operator read the passcode out to you.",
		portal.ChannelManager: "Its passcode was mailed to your manager, who will give it to you.",
		portal.ChannelLink:    "Its passcode was sent as a link that opens once.",
	}[d.Channel]
	call := ""
	if s.delivery.Contact != "" {
		call = " call " + s.delivery.Contact + " now"
	}
	mail := func(slot int, to []portal.Address, subject, text, who string) {
		if s.delivery.Mailer == nil || s.delivery.From == "" || len(to) == 0 {
			return
		}
		wg.Go(func() {
			if _, err := s.delivery.Mailer.SendMail(ctx, s.delivery.From, portal.Mail{To: to, Subject: subject, Text: portal.NewSecret(text)}); err != nil {
				s.log.WarnContext(ctx, "sending a notice", "to", who, "record", outcome.ID, "err", err)
				problems[slot] = "The notice to " + who + " could not be sent: " + portal.ErrorMessage(err)
			}
		})
	}
	if s.delivery.NoticeUser && portal.IsMailAddress(u.Mail) {
		text := fmt.Sprintf("Hello %s,\n\nA Temporary Access Pass was issued for your account %s by %s of the service desk on %s. It works until %s. %s\n\n"+
			"If you did not ask for it,%s: someone may be trying to sign in as you.\n", u.DisplayName, u.UserPrincipalName, p.op.Name, when(outcome.Time), when(issued.End()), how, orTellSomeone(call))
		mail(0, []portal.Address{{Address: u.Mail, Name: u.DisplayName}}, "A Temporary Access Pass was issued for your account", text, "the user")
	}
	if len(s.delivery.NoticeSecurity) > 0 {
		var to []portal.Address
		for _, a := range s.delivery.NoticeSecurity {
			to = append(to, portal.Address{Address: a})
		}
		oneTime, ticket := "no", outcome.Ticket
		if issued.OneTime {
			oneTime = "yes"
		}
		if ticket == "" {
			ticket = "none"
		}
		text := fmt.Sprintf("A Temporary Access Pass was issued.\n\nUser: %s (%s, %s)\nBy: %s (%s)\nAt: %s\nWorks until: %s\nOne-time: %s\nChannel: %s\nReason: %s\nTicket: %s\nHistory record: %d\n",
			u.DisplayName, u.UserPrincipalName, u.ID, p.op.Name, p.op.ID, when(outcome.Time), when(issued.End()), oneTime, d.Channel.Label(),
			outcome.Reason, ticket, outcome.ID)
		mail(1, to, "Temporary Access Pass issued for "+u.DisplayName, text, "the security address")
	}
	n := portal.Notice{ID: fmt.Sprintf("pass.issued:%d", outcome.ID), Kind: portal.NoticePassIssued,
		Summary:  fmt.Sprintf("%s issued a Temporary Access Pass for %s (%s).", p.op.Name, u.DisplayName, d.Channel.Label()),
		TargetID: u.ID, TargetUPN: u.UserPrincipalName, TargetName: u.DisplayName, OperatorID: p.op.ID, OperatorName: p.op.Name, RecordID: outcome.ID}
	if err := s.notify(ctx, n); err != nil {
		problems[2] = "The security event could not be queued: " + portal.ErrorMessage(err)
	}
	wg.Wait()
	var out []string
	for _, p := range problems {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// notify queues a security event, when there is a notifier. It logs a
// failure, and returns it for the pages that say so.
func (s *Service) notify(ctx context.Context, n portal.Notice) error {
	if s.delivery.Notifier == nil {
		return nil
	}
	err := s.delivery.Notifier.Notify(ctx, n)
	if err != nil {
		s.log.WarnContext(ctx, "queueing a security event", "kind", string(n.Kind), "id", n.ID, "err", err)
	}
	return err
}

// RefusalAlert raises a security event when one operator is refused
// Count times within Window; zero Count turns it off.
type RefusalAlert struct {
	Count  int
	Window time.Duration
}

// alertRefusals raises a security event when refusal, just recorded,
// makes the operator's Count-th within the window: once per burst, not on
// every refusal after it.
func (s *Service) alertRefusals(ctx context.Context, refusal portal.Event) {
	a := s.delivery.RefusalAlert
	if a.Count <= 0 || s.delivery.Notifier == nil || refusal.OperatorID == "" || refusal.ID == 0 {
		return
	}
	recent, err := s.history.List(ctx, portal.EventFilter{OperatorID: refusal.OperatorID, Outcome: portal.OutcomeRefused,
		From: refusal.Time.Add(-a.Window), Limit: a.Count + 1})
	if err != nil {
		s.log.WarnContext(ctx, "counting an operator's refusals", "operator", refusal.OperatorID, "err", err)
		return
	}
	if len(recent) != a.Count {
		return
	}
	s.notify(ctx, portal.Notice{ID: fmt.Sprintf("refusals.repeated:%d", refusal.ID), Kind: portal.NoticeRefusalsRepeated,
		Summary: fmt.Sprintf("%s was refused %d times within %s; the last: %s", nameOr(refusal.OperatorName, refusal.OperatorID), a.Count,
			portal.FormatMinutes(int(a.Window/time.Minute)), refusal.Detail),
		OperatorID: refusal.OperatorID, OperatorName: refusal.OperatorName, TargetID: refusal.TargetID, TargetUPN: refusal.TargetUPN,
		TargetName: refusal.TargetName, RecordID: refusal.ID, Counts: map[string]int{"refusals": a.Count}})
}

func orTellSomeone(call string) string {
	if call == "" {
		return " tell the service desk now"
	}
	return call
}
