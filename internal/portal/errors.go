package portal

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The error codes every layer uses. A handler maps each to one HTTP status
// in one place.
const (
	EInvalid      = "invalid"      // the request is malformed or out of range
	ENotFound     = "not_found"    // the user or pass does not exist
	EForbidden    = "forbidden"    // the portal's Graph app lacks a permission
	EPolicy       = "policy"       // the tenant policy or a guardrail refuses
	EThrottled    = "throttled"    // Graph asked to slow down
	EUnavailable  = "unavailable"  // Graph or the store cannot be reached
	EUnauthorized = "unauthorized" // the caller is not signed in
	EDenied       = "denied"       // the caller may not do this
	ELimited      = "limited"      // the caller hit a rate limit
	EConflict     = "conflict"     // the record already exists
	EConfig       = "config"       // the portal's own settings do not match the tenant
	EInternal     = "internal"     // a bug or an unexpected reply
)

// Error is the portal's error: a code, a message fit to show an operator,
// and, when it came from Graph, Graph's request id for support.
type Error struct {
	Code    string
	Message string
	// Field names the form field or setting at fault, if any.
	Field string
	// RequestID is Graph's request-id of the failed call.
	RequestID string
	// RetryAfter is how long Graph asked to wait, when throttled.
	RetryAfter time.Duration
	// Unsure is set on a failed write that Graph may have carried out all
	// the same (a timeout, a lost connection, a 5xx after sending): its
	// outcome must be read back from Graph, never assumed.
	Unsure bool
	// Err is the underlying error, kept for logs.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	msg := e.Message
	if e.RequestID != "" {
		msg += " (request-id " + e.RequestID + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the message of the first *Error in err's chain, or a
// generic message that leaks nothing for any other error.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Message
	}
	return "An internal error occurred."
}

// Unsure reports whether err is a failed write that Graph may have
// carried out (see Error.Unsure).
func Unsure(err error) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && e.Unsure
}

// RequestID returns the Graph request id carried by err, if any.
func RequestID(err error) string {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.RequestID
	}
	return ""
}

type requestIDKey struct{}

// WithRequestID returns a context carrying the portal's request id, which
// logs, history records and Graph's client-request-id all use.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request id carried by ctx, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
