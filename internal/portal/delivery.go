package portal

import "context"

// Channel is how an issued pass's passcode reaches its user. A pass has
// one channel, chosen when it is issued: the passcode is never sent two
// ways.
type Channel string

// The delivery channels.
const (
	// ChannelRead shows the passcode once to the operator, who reads it
	// out to the user.
	ChannelRead Channel = "read"
	// ChannelManager mails the passcode to the user's manager from the
	// portal's mailbox; the operator never sees it.
	ChannelManager Channel = "manager"
	// ChannelLink seals the passcode behind a one-time link whose key is
	// only in the link: the portal keeps ciphertext it cannot open.
	ChannelLink Channel = "link"
)

// Channels lists every channel, in the order a form offers them.
func Channels() []Channel { return []Channel{ChannelRead, ChannelManager, ChannelLink} }

// ParseChannel reads a channel's name.
func ParseChannel(s string) (Channel, bool) {
	for _, c := range Channels() {
		if string(c) == s {
			return c, true
		}
	}
	return "", false
}

// Label names the channel for people.
func (c Channel) Label() string {
	switch c {
	case ChannelRead:
		return "Read out by the operator"
	case ChannelManager:
		return "Mailed to the user's manager"
	case ChannelLink:
		return "One-time link"
	}
	return string(c)
}

// Mailer reads a user's manager and sends mail as the portal's mailbox.
type Mailer interface {
	// Manager returns the user's manager, or nil when they have none.
	// userID must be an object id.
	Manager(ctx context.Context, userID string) (*User, error)
	// SendMail sends m as the mailbox from and returns Graph's request
	// id. A failure after the request left is Unsure: the mail may be on
	// its way.
	SendMail(ctx context.Context, from string, m Mail) (requestID string, err error)
}

// Notice is a security event for the people who watch the portal: a
// pass issued, a pass made elsewhere for a protected account, an operator
// refused again and again, a bulk run, a request waiting for approval. It
// never holds a passcode.
type Notice struct {
	// ID names what the notice is about, so that the same notice raised
	// twice is sent once: "pass.issued:1234" for history record 1234.
	ID   string
	Kind NoticeKind
	// Summary is one line for a person to read.
	Summary                         string
	TargetID, TargetUPN, TargetName string
	OperatorID, OperatorName        string
	RecordID                        int64
	RunID                           string
	Counts                          map[string]int
}

// NoticeKind names what a Notice reports.
type NoticeKind string

// The kinds of notice.
const (
	NoticePassIssued        NoticeKind = "pass.issued"
	NoticePassElsewhere     NoticeKind = "pass.elsewhere_protected"
	NoticeRefusalsRepeated  NoticeKind = "refusals.repeated"
	NoticeBulkRun           NoticeKind = "bulk.run"
	NoticeApprovalRequested NoticeKind = "approval.requested"
)

// Notifier sends notices; it queues them and returns without waiting for
// the network.
type Notifier interface {
	Notify(ctx context.Context, n Notice) error
}
