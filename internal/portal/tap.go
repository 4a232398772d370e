package portal

import (
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// TAPState is where a pass stands in its life.
type TAPState string

// The states of a pass. They follow Graph's methodUsabilityReason, with the
// portal's own reading of the times when Graph's flag lags behind.
const (
	TAPUsable           TAPState = "usable"
	TAPNotYetValid      TAPState = "not-yet-valid"
	TAPExpired          TAPState = "expired"
	TAPUsed             TAPState = "used"
	TAPDisabledByPolicy TAPState = "disabled-by-policy"
)

// Label returns the state in words for an operator.
func (s TAPState) Label() string {
	switch s {
	case TAPUsable:
		return "Usable"
	case TAPNotYetValid:
		return "Not yet valid"
	case TAPExpired:
		return "Expired"
	case TAPUsed:
		return "Used"
	case TAPDisabledByPolicy:
		return "Disabled by policy"
	}
	return string(s)
}

// TAP is a Temporary Access Pass as read from the directory. It never
// holds the passcode: see IssuedTAP.
type TAP struct {
	ID              string
	Created         time.Time
	Start           time.Time
	LifetimeMinutes int
	OneTime         bool
	Usable          bool
	// Reason is Graph's methodUsabilityReason, as sent.
	Reason string
}

// End returns when the pass stops being valid.
func (t TAP) End() time.Time {
	return t.Start.Add(time.Duration(t.LifetimeMinutes) * time.Minute)
}

// State returns the pass's state at now.
func (t TAP) State(now time.Time) TAPState {
	switch t.Reason {
	case "OneTimeUsed":
		return TAPUsed
	case "DisabledByPolicy":
		return TAPDisabledByPolicy
	}
	switch {
	case now.Before(t.Start):
		return TAPNotYetValid
	case !now.Before(t.End()):
		return TAPExpired
	case t.Reason == "Expired":
		return TAPExpired
	case t.Reason == "NotYetValid":
		return TAPNotYetValid
	}
	return TAPUsable
}

// NewTAP asks for a pass.
type NewTAP struct {
	// Start is when the pass becomes valid; zero means now.
	Start time.Time
	// LifetimeMinutes is the lifetime; 0 means the policy default.
	LifetimeMinutes int
	OneTime         bool
}

// IssuedTAP is a pass just created, with its passcode.
type IssuedTAP struct {
	TAP
	Passcode Secret
	// RequestID is Graph's request id of the create.
	RequestID string
}

// Secret is a value that must never be logged or rendered by accident:
// formatting it, logging it with slog or marshalling it gives a
// placeholder. Reveal returns the value for the one place that shows it.
type Secret struct{ value string }

// NewSecret wraps v.
func NewSecret(v string) Secret { return Secret{value: v} }

// Reveal returns the secret value.
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.value == "" }

const redacted = "[redacted]"

// String implements fmt.Stringer with a placeholder.
func (Secret) String() string { return redacted }

// GoString implements fmt.GoStringer with a placeholder.
func (Secret) GoString() string { return redacted }

// Format implements fmt.Formatter so that no verb prints the value.
func (Secret) Format(f fmt.State, _ rune) { f.Write([]byte(redacted)) }

// LogValue implements slog.LogValuer with a placeholder.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText implements encoding.TextMarshaler with a placeholder, which
// also covers JSON.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Policy is the tenant's Temporary Access Pass policy.
type Policy struct {
	Enabled                bool
	DefaultLifetimeMinutes int
	MinLifetimeMinutes     int
	MaxLifetimeMinutes     int
	DefaultLength          int
	// OneTimeForced is true when every pass must be one-time.
	OneTimeForced bool
	Include       []PolicyTarget
	Exclude       []PolicyTarget
}

// PolicyTarget is a group the policy includes or excludes; ID "all_users"
// means everyone.
type PolicyTarget struct {
	ID string
}

// AllUsers is the target id that means every user.
const AllUsers = "all_users"

// LifetimeChoices returns lifetimes an operator can pick, in minutes, all
// inside the policy's bounds and including its default.
func (p Policy) LifetimeChoices() []int {
	steps := []int{10, 15, 30, 60, 120, 240, 480, 720, 1440, 2880, 4320, 10080, 20160, 43200}
	var out []int
	seen := map[int]bool{}
	add := func(m int) {
		if m >= p.MinLifetimeMinutes && m <= p.MaxLifetimeMinutes && !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	add(p.MinLifetimeMinutes)
	for _, s := range steps {
		add(s)
	}
	add(p.DefaultLifetimeMinutes)
	add(p.MaxLifetimeMinutes)
	slices.Sort(out)
	return out
}

// CheckLifetime returns an EPolicy error naming the bound a lifetime
// breaks, or nil.
func (p Policy) CheckLifetime(minutes int) error {
	switch {
	case minutes < p.MinLifetimeMinutes:
		return Errorf(EPolicy, "The lifetime of %s is below the tenant policy's minimum of %s.", FormatMinutes(minutes), FormatMinutes(p.MinLifetimeMinutes))
	case minutes > p.MaxLifetimeMinutes:
		return Errorf(EPolicy, "The lifetime of %s is above the tenant policy's maximum of %s.", FormatMinutes(minutes), FormatMinutes(p.MaxLifetimeMinutes))
	}
	return nil
}

// FormatMinutes renders a lifetime for people: "45 minutes", "8 hours",
// "1 day 2 hours".
func FormatMinutes(m int) string {
	if m < 0 {
		return fmt.Sprintf("%d minutes", m)
	}
	d, h, min := m/1440, m%1440/60, m%60
	var parts []string
	unit := func(n int, one, many string) {
		if n == 1 {
			parts = append(parts, "1 "+one)
		} else if n > 1 {
			parts = append(parts, fmt.Sprintf("%d %s", n, many))
		}
	}
	unit(d, "day", "days")
	unit(h, "hour", "hours")
	unit(min, "minute", "minutes")
	if len(parts) == 0 {
		return "0 minutes"
	}
	out := parts[0]
	for _, p := range parts[1:] {
		out += " " + p
	}
	return out
}

// DirectoryRole is an active directory role a user holds.
type DirectoryRole struct {
	ID          string
	DisplayName string
	TemplateID  string
}

// DirectoryAudit is a directory audit log entry about a pass.
type DirectoryAudit struct {
	ID           string
	Time         time.Time
	Activity     string
	Result       string
	ResultReason string
	// InitiatedBy is the user principal name or the app that acted.
	InitiatedBy string
	TargetID    string
	TargetUPN   string
}
