package templates

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/tapportal/portal/internal/portal"
)

// linkUntil ends the sentence about a one-time link with when it stops
// working, or with nothing when that is not known.
func linkUntil(p Page, expires time.Time) string {
	if expires.IsZero() {
		return ""
	}
	return ", and works until " + when(p, expires)
}

// when formats t in the page's time zone, with the zone's name so nobody
// has to guess.
func when(p Page, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2 Jan 2006, 15:04 MST")
}

func iso(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func stateClass(s portal.TAPState) string {
	switch s {
	case portal.TAPUsable:
		return "badge badge-success"
	case portal.TAPNotYetValid:
		return "badge badge-info"
	case portal.TAPExpired, portal.TAPUsed:
		return "badge badge-neutral"
	}
	return "badge badge-warning"
}

func outcomeClass(o portal.Outcome) string {
	switch o {
	case portal.OutcomeSuccess:
		return "badge badge-success"
	case portal.OutcomeRefused, portal.OutcomeUnknown:
		return "badge badge-warning"
	case portal.OutcomeFailed:
		return "badge badge-danger"
	}
	return "badge badge-neutral"
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

func minutes(m int) string { return portal.FormatMinutes(m) }

func userURL(id string) string { return "/users/" + url.PathEscape(id) }

func approvalURL(id string) string { return "/approvals/" + url.PathEscape(id) }

func searchURL(q, cursor string) string {
	v := url.Values{"q": {q}}
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	return "/search?" + v.Encode()
}

func fieldClass(errs map[string]string, name string) string {
	if _, bad := errs[name]; bad {
		return "field invalid"
	}
	return "field"
}

func errID(name string) string { return name + "-error" }

func describedBy(errs map[string]string, name, hint string) string {
	if _, bad := errs[name]; bad {
		if hint != "" {
			return hint + " " + errID(name)
		}
		return errID(name)
	}
	return hint
}

func itoa(n int) string { return fmt.Sprint(n) }

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

// countdown says how long until end, as "in 58 min", "in 7 h 5 min" or
// "now"; the page's script keeps it current.
func countdown(now, end time.Time) string {
	d := end.Sub(now).Round(time.Minute)
	switch {
	case d <= 0:
		return "now"
	case d < time.Hour:
		return fmt.Sprintf("in %d min", int(d.Minutes()))
	case d%time.Hour == 0:
		return fmt.Sprintf("in %d h", int(d.Hours()))
	}
	return fmt.Sprintf("in %d h %d min", int(d.Hours()), int(d.Minutes())%60)
}

// matchCount says how many users a search found, before the term.
func matchCount(count, shown int) string {
	count = max(count, shown)
	switch {
	case count == 0:
		return "No user matches"
	case count == 1:
		return "1 user matches"
	case count > shown:
		return fmt.Sprintf("%d users match (%d on this page)", count, shown)
	}
	return fmt.Sprintf("%d users match", count)
}

func lifetimeLabel(p portal.Policy, m int) string {
	s := portal.FormatMinutes(m)
	if m == p.DefaultLifetimeMinutes {
		s += " (policy default)"
	}
	return s
}

// htmxConfig keeps htmx inside a strict CSP (no injected styles, no eval)
// and out of localStorage: its history cache would keep page snapshots,
// and no page should outlive its response.
const htmxConfig = `{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"historyCacheSize":0,"refreshOnHistoryMiss":true,"selfRequestsOnly":true}`

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func zone(p Page) string {
	if p.Location == nil {
		return "UTC"
	}
	return p.Location.String()
}

func historyBase(mine bool) string {
	if mine {
		return "/my-history"
	}
	return "/history"
}

func eventURL(mine bool, id int64) string {
	return fmt.Sprintf("%s/%d", historyBase(mine), id)
}

func historyPage(v HistoryView, before int64) string {
	q := v.Query
	if q != "" {
		q += "&"
	}
	return fmt.Sprintf("%s?%sbefore=%d", historyBase(v.Mine), q, before)
}

// filterURL narrows the current filter to one operator or user.
func filterURL(v HistoryView, key, value string) string {
	q, _ := url.ParseQuery(v.Query)
	q.Set(key, value)
	return historyBase(v.Mine) + "?" + q.Encode()
}

// actionWords are what the pages say of each action beyond its Label:
// the heading of its record's page, and what a successful one did. Every
// action of portal.Actions has its entry; the tests fail for one without.
var actionWords = map[portal.Action]struct{ title, done string }{
	portal.ActionIssue:           {"Issue a Temporary Access Pass", "Issued"},
	portal.ActionRevoke:          {"Revoke a Temporary Access Pass", "Revoked"},
	portal.ActionBulkRun:         {"Confirm a cohort run", "Confirmed"},
	portal.ActionReveal:          {"Open a one-time link", "Revealed"},
	portal.ActionApprovalRequest: {"Ask for a second pair of eyes", "Requested"},
	portal.ActionApprovalApprove: {"Approve a request", "Approved"},
	portal.ActionApprovalReject:  {"Reject a request", "Rejected"},
	portal.ActionApprovalExpire:  {"A request expires", "Expired"},
	portal.ActionApprovalCancel:  {"Withdraw a request", "Withdrawn"},
	portal.ActionRetention:       {"Delete records past their retention", "Done"},
	portal.ActionEndSessions:     {"End an operator's sessions", "Done"},
	portal.ActionEventRequeue:    {"Send a security event again", "Done"},
}

// actionTitle is the heading of a record's page.
func actionTitle(e portal.Event) string {
	if w, ok := actionWords[e.Action]; ok {
		return w.title
	}
	return e.Action.Label()
}

// actionLabel says what an action did when it succeeded.
func actionLabel(a portal.Action) string {
	if w, ok := actionWords[a]; ok {
		return w.done
	}
	return a.Label()
}

// historyActions are the actions the history's filter offers: an
// operator's own history leaves out those only supervisors take.
func historyActions(mine bool) []portal.Action {
	var out []portal.Action
	for _, a := range portal.Actions() {
		if mine && supervisorAction(a) {
			continue
		}
		out = append(out, a)
	}
	return out
}

// supervisorAction reports whether only supervisors (or the portal
// itself) take action a, so that no operator's own history holds it.
func supervisorAction(a portal.Action) bool {
	switch a {
	case portal.ActionRetention, portal.ActionEndSessions, portal.ActionEventRequeue, portal.ActionApprovalApprove, portal.ActionApprovalReject:
		return true
	}
	return false
}

func labelClass(b Bar) string {
	if b.Value != "" {
		return "chart-label chart-label-left"
	}
	return "chart-label chart-label-axis"
}

// visible makes the invisible characters of text visible, for the people
// who review the history: control characters and format characters (the
// direction overrides that make "Eve nimda" read "Eve admin", zero-width
// spaces and joiners) are shown as their code points, so that what a
// record holds is what it reads as.
func visible(s string) string {
	if !strings.ContainsFunc(s, invisible) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if invisible(r) {
			fmt.Fprintf(&b, "⟦U+%04X⟧", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func invisible(r rune) bool {
	return r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r))
}

// passFilters are the choices of the tenant passes page: key and label.
var passFilters = [][2]string{{"all", "All"}, {"elsewhere", "Made elsewhere"}, {"protected", "Made elsewhere for protected accounts"}}

// outcomeLabel says how a record's action ended, in words.
func outcomeLabel(e portal.Event) string {
	switch e.Outcome {
	case portal.OutcomeSuccess:
		return actionLabel(e.Action)
	case portal.OutcomeRefused:
		return "Refused by guardrail"
	case portal.OutcomeFailed:
		return "Failed"
	case portal.OutcomePending:
		return "Waiting for Graph"
	case portal.OutcomeUnknown:
		return "Outcome unknown"
	}
	return string(e.Outcome)
}

func countText(n, max int) string {
	switch {
	case n >= max:
		return fmt.Sprintf("More than %s records match", thousands(max-1))
	case n == 1:
		return "1 record matches"
	}
	return thousands(n) + " records match"
}

// thousands writes n with a comma between thousands.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func choiceWho(field string) string {
	if field == "operator" {
		return "operator"
	}
	return "user"
}

// historyQuery is a dashboard period as a history query.
func historyQuery(f HistoryFilter) string {
	q := url.Values{}
	if f.From != "" {
		q.Set("from", f.From)
	}
	if f.To != "" {
		q.Set("to", f.To)
	}
	return q.Encode()
}

// channelHint says what a delivery channel does, under its choice.
func channelHint(c portal.Channel) string {
	switch c {
	case portal.ChannelRead:
		return "You see the passcode once and read it out to the user."
	case portal.ChannelManager:
		return "Mailed to the user's manager from the portal's mailbox; you do not see it."
	case portal.ChannelLink:
		return "A link that shows the passcode once, for you to send to the user; the portal cannot read it."
	}
	return ""
}

// approvalFilters are the approval list's choices; "" is every request.
var approvalFilters = []portal.ApprovalState{"", portal.ApprovalPending, portal.ApprovalIssued, portal.ApprovalRejected, portal.ApprovalExpired}

// approvalPresets are the approval list's choices as links, the one shown
// marked; none is when the filter asked for was refused.
func approvalPresets(v ApprovalsView) []Preset {
	out := make([]Preset, len(approvalFilters))
	for i, st := range approvalFilters {
		out[i] = Preset{Label: "All", URL: "/approvals", Current: st == v.State && v.Error == ""}
		if st != "" {
			out[i].Label, out[i].URL = st.Label(), "/approvals?state="+url.QueryEscape(string(st))
		}
	}
	return out
}

// approvalBadge is the badge class of a request's state.
func approvalBadge(st portal.ApprovalState) string {
	switch st {
	case portal.ApprovalPending, portal.ApprovalApproved:
		return "badge-warning"
	case portal.ApprovalIssued:
		return "badge-success"
	case portal.ApprovalRejected, portal.ApprovalFailed:
		return "badge-danger"
	}
	return "badge-neutral"
}

func oneTimeLabel(oneTime bool) string {
	if oneTime {
		return "one-time"
	}
	return "multi-use"
}
