package graph

import (
	"context"
	"strings"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/auditlogs"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/tapportal/portal/internal/portal"
)

var opAudits = op{"read the directory audit log", "AuditLog.Read.All", "The directory audit log was not found."}

// auditPageSize is how many entries one read of the audit log asks for:
// Graph allows about five reads per ten seconds of this API, so a page
// carries as much as it can.
const auditPageSize = 500

// The audit log's words for a pass made or removed by an admin or an app.
// The activity names cover every sign-in method; the result reason says
// which one.
const (
	auditActivityAdd    = "Admin registered security info"
	auditActivityDelete = "Admin deleted security info"
	auditReasonTAP      = "temporary access pass"
)

// PassAudits implements portal.Directory. It reads the entries of the
// Authentication Methods service since the given time (Graph filters on
// the service and the time; the portal picks out the passes), without the
// SDK's retries: the caller paces itself within the audit API's own
// throttle and waits as long as a 429 asks.
func (c *Client) PassAudits(ctx context.Context, since time.Time, next string) (portal.AuditPage, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	builder := c.sdk.AuditLogs().DirectoryAudits()
	opts := []abstractions.RequestOption{noRetry()}
	var page models.DirectoryAuditCollectionResponseable
	var err error
	if next != "" {
		if err := c.sameOrigin(next); err != nil {
			return portal.AuditPage{}, err
		}
		page, err = builder.WithUrl(next).Get(ctx, &auditlogs.DirectoryAuditsRequestBuilderGetRequestConfiguration{Options: opts})
	} else {
		filter := "activityDateTime ge " + since.UTC().Format(time.RFC3339) + " and loggedByService eq 'Authentication Methods'"
		top := int32(auditPageSize)
		page, err = builder.Get(ctx, &auditlogs.DirectoryAuditsRequestBuilderGetRequestConfiguration{
			Options:         opts,
			QueryParameters: &auditlogs.DirectoryAuditsRequestBuilderGetQueryParameters{Filter: &filter, Top: &top}})
	}
	if err != nil {
		return portal.AuditPage{}, translate(opAudits, err)
	}
	var out portal.AuditPage
	for _, a := range page.GetValue() {
		e, ok, readable := passAudit(a)
		switch {
		case !readable:
			out.Unreadable++
		case ok:
			out.Entries = append(out.Entries, e)
		}
	}
	out.Next = deref(page.GetOdataNextLink())
	return out, nil
}

// passAudit reads a pass's creation or deletion from an audit entry. ok is
// false for entries about anything else, or that did not succeed;
// readable is false for a pass's entry that lacks its id, time or target
// user.
func passAudit(a models.DirectoryAuditable) (e portal.AuditEntry, ok, readable bool) {
	if a.GetResult() == nil || *a.GetResult() != models.SUCCESS_OPERATIONRESULT ||
		!strings.Contains(strings.ToLower(deref(a.GetResultReason())), auditReasonTAP) {
		return e, false, true
	}
	switch deref(a.GetActivityDisplayName()) {
	case auditActivityAdd:
		e.Activity = portal.PassCreated
	case auditActivityDelete:
		e.Activity = portal.PassDeleted
	default:
		return e, false, true
	}
	e.ID = deref(a.GetId())
	if t := a.GetActivityDateTime(); t != nil {
		e.Time = t.UTC()
	}
	for _, t := range a.GetTargetResources() {
		if strings.EqualFold(deref(t.GetTypeEscaped()), "User") {
			e.TargetID = strings.ToLower(deref(t.GetId()))
			e.TargetUPN, e.TargetName = deref(t.GetUserPrincipalName()), deref(t.GetDisplayName())
			break
		}
	}
	if by := a.GetInitiatedBy(); by != nil {
		if u := by.GetUser(); u != nil && deref(u.GetId()) != "" {
			e.ByUserID, e.ByUserUPN = strings.ToLower(deref(u.GetId())), deref(u.GetUserPrincipalName())
		} else if app := by.GetApp(); app != nil {
			e.ByAppID, e.ByAppName = strings.ToLower(deref(app.GetAppId())), deref(app.GetDisplayName())
		}
	}
	if e.ID == "" || e.Time.IsZero() || !portal.IsObjectID(e.TargetID) || e.ByUserID == "" && e.ByAppID == "" {
		return e, true, false
	}
	return e, true, true
}
