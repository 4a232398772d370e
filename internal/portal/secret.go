package portal

import (
	"fmt"
	"log/slog"
)

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
