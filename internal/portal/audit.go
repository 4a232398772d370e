package portal

import (
	"context"
	"time"
)

// PassActivity is what the directory audit log says happened to a pass.
type PassActivity string

// The activities of a pass that the audit log records.
const (
	PassCreated PassActivity = "created"
	PassDeleted PassActivity = "deleted"
)

// Label returns the activity in words.
func (a PassActivity) Label() string {
	switch a {
	case PassCreated:
		return "Created"
	case PassDeleted:
		return "Deleted"
	}
	return string(a)
}

// AuditEntry is a pass created or deleted, as the directory audit log
// records it. A person (ByUserID) or an app (ByAppID) made the change:
// for changes made through the portal, the app is the portal's own Graph
// app, never the operator.
type AuditEntry struct {
	ID         string
	Time       time.Time
	Activity   PassActivity
	TargetID   string
	TargetUPN  string
	TargetName string
	ByUserID   string
	ByUserUPN  string
	ByAppID    string
	ByAppName  string
}

// By names who made the change.
func (e AuditEntry) By() string {
	switch {
	case e.ByUserUPN != "":
		return e.ByUserUPN
	case e.ByUserID != "":
		return e.ByUserID
	case e.ByAppName != "":
		return e.ByAppName
	}
	return e.ByAppID
}

// AuditPage is one page of the audit log's pass activities.
type AuditPage struct {
	Entries []AuditEntry
	// Unreadable counts entries about passes that lacked what the portal
	// needs (a target user, a time); they are left out of Entries.
	Unreadable int
	// Next is "" on the last page.
	Next string
}

// TenantPass is an audit log entry as the portal reconciled it with its
// own history.
type TenantPass struct {
	AuditEntry
	// Seen is when the portal first read the entry.
	Seen time.Time
	// IntentID is the portal's intent the entry carried out; 0 when the
	// change was made elsewhere.
	IntentID int64
	// Checked reports whether the target's privilege was checked, for a
	// pass created elsewhere; Privilege then says how the target holds
	// power the portal protects, "" when they hold none. CheckDetail
	// says why a check has not completed yet.
	Checked     bool
	Privilege   string
	CheckDetail string
}

// Elsewhere reports whether the change was made outside the portal.
func (p TenantPass) Elsewhere() bool { return p.IntentID == 0 }

// Protected reports whether a pass made elsewhere went to an account the
// portal protects.
func (p TenantPass) Protected() bool { return p.Elsewhere() && p.Privilege != "" }

// AuditCursor is how far the portal has read the audit log.
type AuditCursor struct {
	// From is the oldest time the reads covered; zero before the first.
	From time.Time
	// To is when the last complete read began: every entry the audit log
	// listed by then has been read.
	To time.Time
	// Problem says why the last read failed, at ProblemAt; "" after a
	// read that completed.
	Problem   string
	ProblemAt time.Time
}

// TenantPassFilter selects stored audit entries. Zero fields match all.
type TenantPassFilter struct {
	// Elsewhere selects the changes made outside the portal.
	Elsewhere bool
	// Protected selects passes made elsewhere for protected accounts.
	Protected bool
	TargetID  string
	From, To  time.Time
	Limit     int
}

// Unaudited is an action the portal carried out that the audit log does
// not show, though it should by now.
type Unaudited struct {
	Intent  Event
	Flagged time.Time
}

// AuditLog keeps what the portal read of the directory audit log and how
// it matched the portal's own history. Implementations return EUnavailable
// when the store cannot be reached.
type AuditLog interface {
	// AuditCursor returns how far the audit log has been read.
	AuditCursor(ctx context.Context) (AuditCursor, error)
	// SaveAudit stores the entries not stored yet, matching each made by
	// the portal's app (appID) to the intent it carried out, one entry per
	// intent: the intent of the same action on the same user recorded
	// within window before the entry's time (or skew after it). It moves
	// the cursor to c and returns the entries it stored.
	SaveAudit(ctx context.Context, entries []AuditEntry, appID string, window, skew time.Duration, c AuditCursor) ([]TenantPass, error)
	// AuditProblem records why a read of the audit log failed.
	AuditProblem(ctx context.Context, problem string, at time.Time) error
	// UncheckedPasses returns passes created elsewhere whose target's
	// privilege has not been checked, oldest first.
	UncheckedPasses(ctx context.Context, limit int) ([]TenantPass, error)
	// CheckedPass records the privilege check of a stored entry: done with
	// privilege (or "" for none), or not done and why (detail).
	CheckedPass(ctx context.Context, id string, done bool, privilege, detail string) error
	// TenantPasses lists stored entries, newest first.
	TenantPasses(ctx context.Context, f TenantPassFilter) ([]TenantPass, error)
	// FlagUnaudited flags the portal's completed actions recorded in
	// [from, to) that no entry matches, and clears the flag of those an
	// entry now matches. It returns the newly flagged ones.
	FlagUnaudited(ctx context.Context, from, to time.Time, at time.Time) ([]Unaudited, error)
	// Unaudited lists the flagged actions, newest first.
	Unaudited(ctx context.Context, limit int) ([]Unaudited, error)
}
