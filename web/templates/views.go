// Package templates renders the portal's pages with templ. Components take
// view models shaped like the page, never Graph or database types, and
// every page is wrapped by Layout.
package templates

import (
	"time"

	"github.com/tapportal/portal/internal/portal"
)

// Page is what the layout needs on every page.
type Page struct {
	Title string
	// Nav is the active navigation entry: "search" or "history".
	Nav string
	// User is nil on pages shown before sign-in.
	User *Viewer
	// CSRF is the token forms echo.
	CSRF string
	// RequestID is shown on error pages and in the footer for support.
	RequestID string
	Assets    Assets
	// Location is the operator's time zone.
	Location *time.Location
	// Wide pages (tables to review) use the whole window.
	Wide bool
}

// Assets are the content-hashed URLs of the static files.
type Assets struct {
	CSS, JS, HTMX string
}

// Viewer is the signed-in person.
type Viewer struct {
	Name       string
	Username   string
	Supervisor bool
	// Bulk is true when cohort files may be run.
	Bulk bool
	// Demo is true in the demo tenant, which has a mailbox page.
	Demo bool
	// Approvals is true when passes may wait for approval.
	Approvals bool
}

// SearchView is the search page.
type SearchView struct {
	Query string
	Error string
	Users []portal.UserMatch
	// Count is how many users match in all; Prefix says the tenant
	// refused a word search and only the start of names matched.
	Count    int
	Prefix   bool
	Next     string
	Cursor   string
	Searched bool
}

// UserView is the user page.
type UserView struct {
	User    portal.User
	Methods []portal.Method
	// MethodsError says why the methods could not be read.
	MethodsError string
	TAP          *portal.TAP
	TAPState     portal.TAPState
	// FollowUp is what became of TAP; nil without one.
	FollowUp *portal.FollowUp
	Policy   portal.Policy
	// Privileges say how the user holds power the portal protects.
	Privileges []string
	// Refusals are the reasons the user cannot get a pass; none means
	// eligible.
	Refusals []RefusalView
	History  []portal.Event
	// Notice is a one-line confirmation, e.g. after a revocation.
	Notice string
}

// IssueForm is the issue form, blank or refilled after an error.
type IssueForm struct {
	User   portal.User
	Policy portal.Policy
	// Current is the pass a new one would replace.
	Current      *portal.TAP
	CurrentState portal.TAPState
	// Confirm asks the operator to confirm replacing Current.
	Confirm bool
	// Submission is the form's single-use id.
	Submission string
	Values     IssueValues
	Errors     map[string]string
	// Error is a message about the whole form.
	Error string
	// QuickReasons fill the reason with one click.
	QuickReasons []string
	// Channels are the ways the passcode may reach the user, the
	// default first; the form offers a choice when there is more than one.
	Channels []portal.Channel
}

// IssueValues are the form's fields as typed.
type IssueValues struct {
	StartMode string // "now" or "later"
	StartAt   string // datetime-local value in the operator's zone
	Lifetime  int
	OneTime   bool
	Reason    string
	Ticket    string
	Channel   portal.Channel
}

// PasscodeView is the one-time display of a new pass.
type PasscodeView struct {
	User     portal.User
	TAP      portal.TAP
	Passcode string
	// Now is when the page is rendered; the page's script counts down
	// from it.
	Now time.Time
	// Instructions is what the operator tells the user, from the
	// configuration.
	Instructions string
	// NoticeProblems say which notices of the pass could not be sent.
	NoticeProblems []string
}

// DeliveredView is the page after a pass whose passcode went to the user
// another way than through the operator.
type DeliveredView struct {
	User portal.User
	TAP  portal.TAP
	Now  time.Time
	// Channel is how the passcode went; Recipient names the manager it
	// was mailed to.
	Channel   portal.Channel
	Recipient string
	// Link is the one-time link's address, shown on this page only;
	// LinkExpires is when it stops working.
	Link        string
	LinkExpires time.Time
	// NoticeProblems say which notices of the pass could not be sent.
	NoticeProblems []string
}

// RevokeForm is the revoke confirmation.
type RevokeForm struct {
	User   portal.User
	TAP    portal.TAP
	Reason string
	Errors map[string]string
	Error  string
}

// ErrorView is a friendly error page.
type ErrorView struct {
	Status  int
	Heading string
	Message string
	// GraphRequestID is Microsoft Graph's request id, for a support case.
	GraphRequestID string
	// SignIn offers a sign-in link.
	SignIn bool
}

// HistoryFilter is the history page's filter form, as typed.
type HistoryFilter struct {
	// Operator and Target are as typed: a name, a UPN or an object id.
	Operator string
	Target   string
	// OperatorLabel and TargetLabel name the person a typed name was
	// resolved to; Choices are the people a name fits when it fits
	// several.
	OperatorLabel, TargetLabel string
	Choices                    []PersonChoice
	Action                     string
	Outcome                    string
	From                       string // YYYY-MM-DD in the viewer's zone
	To                         string
}

// Preset is a one-click period of the review pages.
type Preset struct {
	Label, URL string
	Current    bool
}

// PersonChoice is the people a filter's name fits, to choose from.
type PersonChoice struct {
	Field  string // "operator" or "target"
	People []portal.Person
}

// HistoryView is a page of history records.
type HistoryView struct {
	// Mine is the operator's own history; otherwise the supervisors'.
	Mine   bool
	Filter HistoryFilter
	Errors map[string]string
	Events []portal.Event
	// Query is the filter as a query string, for paging and export links.
	Query string
	// Count is how many records match, up to CountMax; Counted is false
	// when the count was not read (the filter is invalid).
	Count, CountMax int
	Counted         bool
	// Presets are one-click periods.
	Presets []Preset
	// Next is the keyset cursor of the next (older) page, or 0.
	Next   int64
	Paged  bool
	Export string
	// OperatorID is the operator the filter resolved to, for ending their
	// sessions.
	OperatorID string
	// Notice is a one-line confirmation, e.g. after sessions were ended.
	Notice string
	// Chain is the history chain's status, on the supervisors' pages.
	Chain *portal.ChainStatus
}

// EventView is one history record in full.
type EventView struct {
	Event portal.Event
	// Intent is the intent an outcome settles, when there is one.
	Intent *portal.Event
	// FollowUp is what became of the pass an issue made.
	FollowUp *RecordFollowUp
}

// RecordFollowUp is the follow-up of a record's pass as read from Graph:
// Current while the pass is still the user's; Error when Graph could not
// be read.
type RecordFollowUp struct {
	portal.FollowUp
	Current bool
	Error   string
}

// DashboardView is the supervisors' dashboard.
type DashboardView struct {
	// Events counts the security events' deliveries, when they are posted.
	Events   *EventCounts
	Filter   HistoryFilter
	Errors   map[string]string
	Stats    portal.Stats
	PerDay   Chart
	Operator Chart
	Refusals Chart
	// Watch charts revocations and passes made elsewhere per day.
	Watch Chart
	Chain *portal.ChainStatus
	// Totals are the period's counts; ElsewhereRead is false when the
	// portal does not read the audit log, ElsewhereCapped when there were
	// more passes made elsewhere than the page reads.
	Totals          portal.Totals
	ElsewhereRead   bool
	ElsewhereCapped bool
	Operators       []portal.OperatorReview
	Presets         []Preset
	// Follow is the follow-up of the period's passes; nil when the portal
	// does not follow passes up.
	Follow *FollowView
}

// FollowView is what the portal last saw of the passes made in a period.
type FollowView struct {
	Counts portal.WatchCounts
	// StillUsable are passes that work after the user set up sign-in;
	// Unused those that ended without being seen used.
	StillUsable, Unused []portal.WatchedPass
	// Limit is how many of each the page lists.
	Limit int
}

// Chart is a server-rendered SVG bar chart.
type Chart struct {
	Title  string
	Width  int
	Height int
	Bars   []Bar
	// Legend names the series by CSS class.
	Legend []LegendItem
	Empty  bool
}

// Bar is one rectangle (or a stack segment) with its label.
type Bar struct {
	X, Y, W, H int
	Class      string
	Label      string // for the axis, empty for stacked segments
	LabelX     int
	LabelY     int
	Title      string // tooltip and accessible text
	Value      string
	ValueX     int
	ValueY     int
	// Centered writes Value centred on ValueX (over a column).
	Centered bool
}

// LegendItem names a chart series.
type LegendItem struct {
	Class, Label string
}

// RefusalView is one reason a user cannot get a pass, with what the
// operator can do next.
type RefusalView struct {
	Message, Help string
}

// RefusedView is the page of a pass the portal will not issue.
type RefusedView struct {
	User     portal.User
	Refusals []RefusalView
}

// NoAccessView is the page of someone signed in without a portal role.
type NoAccessView struct {
	Name string
	// Roles are the role values the sign-in carried (the first ten).
	Roles                        []string
	OperatorRole, SupervisorRole string
}

// TenantPassesView is the supervisors' page of every pass the directory
// audit log shows, matched to the portal's history.
type TenantPassesView struct {
	// Off is set when the portal does not read the audit log.
	Off    bool
	Cursor portal.AuditCursor
	// Show is "all", "elsewhere" or "protected".
	Show      string
	Passes    []portal.TenantPass
	Unaudited []portal.Unaudited
	// Delay is how late the audit log may be before an action is flagged.
	Delay string
}

// BulkUploadView is the cohort page: the upload form and the latest runs.
type BulkUploadView struct {
	// Error says why a file was refused as a whole; LineErrors list its
	// bad rows, each with its line number.
	Error      string
	LineErrors []string
	FileName   string
	MaxRows    int
	MaxSize    string
	// Sample is true when the demo's sample cohort can be downloaded.
	Sample bool
	// Limit says the bulk rate limit, e.g. "500 rows per 24 hours".
	Limit string
	Runs  []portal.BulkRun
	// Everyone is true when Runs are everyone's, not the viewer's own.
	Everyone bool
}

// BulkRunView is one run: its rows and where it stands.
type BulkRunView struct {
	Run  portal.BulkRun
	Rows []portal.BulkRow
	// Owner is true for the operator who uploaded the run.
	Owner bool
	// HasKey is true when this browser holds the key that opens the
	// run's passcodes; Sealed counts the passcodes still waiting.
	HasKey   bool
	Sealed   int
	Error    string
	Progress BulkProgress
	// Approval is the request for approval the run waits or waited on,
	// or nil.
	Approval *portal.ApprovalRequest
	Now      time.Time
}

// BulkProgress is how far a run has got.
type BulkProgress struct {
	RunID string
	State portal.RunState
	// Total rows confirmed, Done of them with their outcome.
	Total, Done int
	Counts      map[portal.RowState]int
	// ETA is the expected time left, "" while unknown.
	ETA string
}

// BulkPasscodesView shows a finished run's passcodes, once.
type BulkPasscodesView struct {
	Run  portal.BulkRun
	Rows []BulkPasscode
	Now  time.Time
}

// BulkPasscode is one issued row's passcode, or why it cannot be shown.
type BulkPasscode struct {
	Row      portal.BulkRow
	Passcode string
	Problem  string
}

// DemoMail is a mail the demo tenant's Exchange accepted from the portal.
type DemoMail struct {
	Sent     time.Time
	From, To string
	Subject  string
	Body     string
	// Undelivered are the addresses Exchange took the mail for and could
	// not deliver to (no mailbox holds them), comma-separated.
	Undelivered string
}

// DemoEvent is a security event the demo's webhook receiver got.
type DemoEvent struct {
	Received time.Time
	ID, Kind string
	Summary  string
	// Attempt counts the deliveries of the same event.
	Attempt int
	// Problem says why the signature did not verify; "" when it did.
	Problem string
}

// DemoMailboxView is the demo's mailbox page.
type DemoMailboxView struct {
	Mails  []DemoMail
	Events []DemoEvent
}

// ApprovalsView is the list of requests for approval.
type ApprovalsView struct {
	Requests []portal.ApprovalRequest
	// Supervisor lists everyone's requests, to decide; an operator sees
	// their own.
	Supervisor bool
	State      portal.ApprovalState
	Now        time.Time
	// Error says what is wrong with the filter asked for; no requests are
	// listed then.
	Error string
}

// ApprovalView is one request for approval.
type ApprovalView struct {
	Request portal.ApprovalRequest
	State   portal.ApprovalState
	Now     time.Time
	// Changes say what changed since the request, for a supervisor who
	// may decide it; NowRefusals are the guardrails' refusals now, and
	// ReadProblem why the present could not be read.
	Changes     []string
	NowRefusals []RefusalView
	ReadProblem string
	// Mine is set for the requester, CanDecide for a supervisor who may
	// approve or reject it, HasKey when this browser holds the key the
	// passcode is sealed to.
	Mine, CanDecide, HasKey bool
	// Message says what came of the last action; Errors and Note are the
	// decision form's.
	Message string
	Errors  map[string]string
	Note    string
}

// EventCounts count the security events by where their delivery stands.
type EventCounts struct {
	Pending, Delivered, Dead int
	// OldestPending is when the oldest waiting event was raised.
	OldestPending time.Time
}

// DeadEvent is a security event the webhook never accepted.
type DeadEvent struct {
	ID       int64
	Kind     string
	Summary  string
	Created  time.Time
	Attempts int
	// LastStatus is the receiver's last answer, 0 when none came;
	// LastError says what went wrong.
	LastStatus int
	LastError  string
	LastTried  time.Time
}

// EventsView is the page of the security events' deliveries.
type EventsView struct {
	Counts  EventCounts
	Dead    []DeadEvent
	Message string
}
