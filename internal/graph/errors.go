package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/tapportal/portal/internal/portal"
)

// op describes one kind of Graph call, so that an error can say what the
// portal was doing and which permission it lacks.
type op struct {
	what       string // "search users", "create the Temporary Access Pass"
	permission string // the application permission the call needs
	notFound   string // the message for a 404
}

var (
	opUsers     = op{"search users", "User.Read.All", "The user was not found."}
	opUser      = op{"read the user", "User.Read.All", "The user was not found in the directory."}
	opMethods   = op{"read the user's sign-in methods", "UserAuthenticationMethod.Read.All", "The user was not found in the directory."}
	opTAPRead   = op{"read the user's Temporary Access Pass", "UserAuthMethod-TAP.ReadWrite.All", "The user was not found in the directory."}
	opTAPCreate = op{"create the Temporary Access Pass", "UserAuthMethod-TAP.ReadWrite.All", "The user was not found in the directory."}
	opTAPDelete = op{"revoke the Temporary Access Pass", "UserAuthMethod-TAP.ReadWrite.All", "The Temporary Access Pass no longer exists; it may have been revoked or replaced already."}
	opPolicy    = op{"read the tenant's Temporary Access Pass policy", "Policy.Read.All", "The tenant has no Temporary Access Pass policy."}
	opGroups    = op{"check the user's group memberships", "GroupMember.Read.All", "The user was not found in the directory."}
	opSignIns   = op{"read the user's sign-in activity", "AuditLog.Read.All", "The user was not found in the directory."}
)

var lifetimeBounds = regexp.MustCompile(`(?i)valid range between (\d+) and (\d+)`)

// translate turns an SDK error into a *portal.Error that keeps Graph's
// request id.
func translate(o op, err error) error {
	if err == nil {
		return nil
	}
	var odata *odataerrors.ODataError
	if !errors.As(err, &odata) {
		return transportError(o, err)
	}
	e := &portal.Error{Err: err}
	code, msg := "", ""
	if main := odata.GetErrorEscaped(); main != nil {
		code, msg = deref(main.GetCode()), deref(main.GetMessage())
		if inner := main.GetInnerError(); inner != nil {
			e.RequestID = deref(inner.GetRequestId())
		}
	}
	headers := odata.GetResponseHeaders()
	if e.RequestID == "" && headers != nil {
		if v := headers.Get("request-id"); len(v) > 0 {
			e.RequestID = v[0]
		}
	}
	status := odata.ResponseStatusCode
	switch {
	case status == http.StatusBadRequest && containsFold(msg, "UserCredentialPolicy"):
		e.Code = portal.EPolicy
		e.Message = "The tenant's Temporary Access Pass policy does not allow a pass for this user: the method is disabled, or the user is not among the policy's targets."
	case status == http.StatusBadRequest && containsFold(msg, "LifetimeInMinutes"):
		e.Code = portal.EPolicy
		if m := lifetimeBounds.FindStringSubmatch(msg); m != nil {
			lo, _ := strconv.Atoi(m[1])
			hi, _ := strconv.Atoi(m[2])
			e.Message = fmt.Sprintf("The lifetime is outside the tenant policy: it must be between %s and %s.", portal.FormatMinutes(lo), portal.FormatMinutes(hi))
		} else {
			e.Message = "The lifetime is outside the tenant policy's bounds."
		}
	case status == http.StatusBadRequest && containsFold(msg, "guest"):
		e.Code = portal.EPolicy
		e.Message = "Microsoft Entra does not allow a Temporary Access Pass for an external guest."
	case status == http.StatusBadRequest:
		e.Code = portal.EInvalid
		e.Message = fmt.Sprintf("Microsoft Graph refused the request to %s: %s", o.what, msg)
	case status == http.StatusUnauthorized:
		e.Code = portal.EForbidden
		e.Message = fmt.Sprintf("Microsoft Graph refused the portal's credential while trying to %s.", o.what)
	case status == http.StatusForbidden && strings.EqualFold(code, "Authentication_RequestFromNonPremiumTenantOrB2CTenant"):
		e.Code = portal.EForbidden
		e.Message = fmt.Sprintf("The tenant has no Microsoft Entra ID P1 licence, so the portal cannot %s.", o.what)
	case status == http.StatusForbidden:
		e.Code = portal.EForbidden
		e.Message = fmt.Sprintf("The portal's Graph app is not allowed to %s: it needs the %s application permission, with admin consent.", o.what, o.permission)
	case status == http.StatusNotFound:
		e.Code = portal.ENotFound
		e.Message = o.notFound
	case status == http.StatusTooManyRequests:
		e.Code = portal.EThrottled
		e.RetryAfter = retryAfter(headers)
		e.Message = "Microsoft Graph is throttling the portal. Wait a moment and try again."
		if e.RetryAfter > 0 {
			e.Message = fmt.Sprintf("Microsoft Graph asked the portal to wait %d s before trying to %s again.", int(e.RetryAfter.Round(time.Second)/time.Second), o.what)
		}
	case status >= 500:
		e.Code = portal.EUnavailable
		e.Message = fmt.Sprintf("Microsoft Graph is unavailable (status %d) and could not %s. Try again shortly.", status, o.what)
	default:
		e.Code = portal.EInternal
		e.Message = fmt.Sprintf("Microsoft Graph answered %d (%s) while trying to %s.", status, code, o.what)
	}
	return e
}

// translateWrite is translate for a write: a failure after which Graph
// may have acted is marked Unsure. Only a reply below 500 (Graph answered
// without acting: refused, throttled, not found) or a connection never
// made is sure.
func translateWrite(o op, err error) error {
	out := translate(o, err)
	pe, ok := out.(*portal.Error)
	if !ok {
		return out
	}
	var odata *odataerrors.ODataError
	switch {
	case errors.As(err, &odata):
		pe.Unsure = odata.ResponseStatusCode >= 500
	default:
		pe.Unsure = !neverSent(err)
	}
	if pe.Unsure {
		pe.Message = fmt.Sprintf("Microsoft Graph did not confirm whether it could %s: it may have done so.", o.what)
	}
	return pe
}

// transportError covers failures without a Graph reply: timeouts, dropped
// connections, a token that could not be had.
func transportError(o op, err error) error {
	e := &portal.Error{Code: portal.EUnavailable, Err: err}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		e.Message = fmt.Sprintf("Microsoft Graph did not answer in time while trying to %s.", o.what)
	case errors.Is(err, context.Canceled):
		e.Message = "The request was cancelled."
	default:
		e.Message = fmt.Sprintf("Microsoft Graph could not be reached to %s.", o.what)
	}
	return e
}

func retryAfter(h interface{ Get(string) []string }) time.Duration {
	if h == nil {
		return 0
	}
	v := h.Get("Retry-After")
	if len(v) == 0 {
		return 0
	}
	if s, err := strconv.Atoi(v[0]); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v[0]); err == nil {
		return time.Until(t)
	}
	return 0
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
