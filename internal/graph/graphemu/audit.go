package graphemu

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Graph throttles the directory audit API far below its other reads:
// about five requests per ten seconds per app and tenant.
const (
	auditReadLimit  = 5
	auditReadWindow = 10 * time.Second
)

// Names Graph's audit entries for authentication methods use.
const (
	auditCategory      = "UserManagement"
	auditServiceMethod = "Authentication Methods"
)

// auditTAP appends the audit entry of a pass created or deleted by app
// (nil when the token's app is unknown) for u. It shows in listings after
// the tenant's AuditDelay; never for a user in AuditGaps.
func (t *Tenant) auditTAP(app *App, u *User, at time.Time, activity, operation, reason string) {
	if t.AuditGaps[u.ID] {
		return
	}
	e := &AuditEntry{
		ID:                  auditID(),
		ActivityDateTime:    at,
		ActivityDisplayName: activity,
		Category:            auditCategory,
		LoggedByService:     auditServiceMethod,
		OperationType:       operation,
		Result:              "success",
		ResultReason:        reason,
		TargetID:            u.ID,
		TargetUPN:           u.UserPrincipalName,
		TargetDisplayName:   u.DisplayName,
		TargetType:          "User",
		CorrelationID:       newGUID(),
		listedFrom:          time.Now().Add(t.AuditDelay),
	}
	if app != nil {
		e.InitiatedByAppID = app.ClientID
		e.InitiatedByAppName = app.DisplayName
	}
	t.Audits = append(t.Audits, e)
}

// auditID looks like Graph's directory audit ids: the service, a GUID and
// two short random suffixes.
func auditID() string {
	var b [9]byte
	rand.Read(b[:])
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	suffix := make([]byte, 5)
	for i := range suffix {
		suffix[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return fmt.Sprintf("Directory_%s_%s_%08d", newGUID(), suffix, binary.BigEndian.Uint32(b[5:])%100000000)
}

// servicePrincipalID derives a stable object id for an app's service
// principal, which the emulator does not otherwise model.
func servicePrincipalID(appID string) string {
	h := sha256.Sum256([]byte("service principal of " + appID))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// auditProps renders an audit entry as Graph's directoryAudit.
func auditProps(e *AuditEntry) map[string]any {
	var app, user any
	if e.InitiatedByUserID != "" {
		user = map[string]any{
			"id":                e.InitiatedByUserID,
			"displayName":       nil,
			"userPrincipalName": e.InitiatedByUserUPN,
			"ipAddress":         nil,
		}
	} else {
		app = map[string]any{
			"appId":                nullable(e.InitiatedByAppID),
			"displayName":          nullable(e.InitiatedByAppName),
			"servicePrincipalId":   servicePrincipalID(e.InitiatedByAppID),
			"servicePrincipalName": nil,
		}
	}
	targetType := e.TargetType
	if targetType == "" {
		targetType = "User"
	}
	target := map[string]any{
		"id":                 e.TargetID,
		"displayName":        nullable(e.TargetDisplayName),
		"type":               targetType,
		"userPrincipalName":  nullable(e.TargetUPN),
		"groupType":          nil,
		"modifiedProperties": []any{},
	}
	return map[string]any{
		"id":                  e.ID,
		"category":            e.Category,
		"correlationId":       e.CorrelationID,
		"result":              e.Result,
		"resultReason":        e.ResultReason,
		"activityDisplayName": e.ActivityDisplayName,
		"activityDateTime":    graphTime(e.ActivityDateTime),
		"loggedByService":     e.LoggedByService,
		"operationType":       e.OperationType,
		"initiatedBy":         map[string]any{"app": app, "user": user},
		"targetResources":     []any{target},
		"additionalDetails":   []any{},
	}
}

// auditFilter is what $filter may use on directory audits.
var auditFilter = &filterSchema{
	entity:   "microsoft.graph.directoryAudit",
	resource: "DirectoryAudit",
	props: map[string]filterProp{
		"activitydatetime":                   {"activityDateTime", kindDateTime},
		"activitydisplayname":                {"activityDisplayName", kindString},
		"loggedbyservice":                    {"loggedByService", kindString},
		"category":                           {"category", kindString},
		"result":                             {"result", kindString},
		"operationtype":                      {"operationType", kindString},
		"correlationid":                      {"correlationId", kindString},
		"id":                                 {"id", kindString},
		"initiatedby/app/appid":              {"initiatedBy/app/appId", kindString},
		"initiatedby/app/displayname":        {"initiatedBy/app/displayName", kindString},
		"initiatedby/user/id":                {"initiatedBy/user/id", kindString},
		"initiatedby/user/userprincipalname": {"initiatedBy/user/userPrincipalName", kindString},
	},
	known: map[string]bool{"resultreason": true, "targetresources": true, "additionaldetails": true, "initiatedby": true},
}

// auditGetter returns a filter getter over an entry.
func auditGetter(e *AuditEntry) func(string) any {
	return func(name string) any {
		switch name {
		case "activityDateTime":
			return e.ActivityDateTime
		case "activityDisplayName":
			return nullable(e.ActivityDisplayName)
		case "loggedByService":
			return nullable(e.LoggedByService)
		case "category":
			return nullable(e.Category)
		case "result":
			return nullable(e.Result)
		case "operationType":
			return nullable(e.OperationType)
		case "correlationId":
			return nullable(e.CorrelationID)
		case "id":
			return nullable(e.ID)
		case "initiatedBy/app/appId":
			return nullable(e.InitiatedByAppID)
		case "initiatedBy/app/displayName":
			return nullable(e.InitiatedByAppName)
		case "initiatedBy/user/id":
			return nullable(e.InitiatedByUserID)
		case "initiatedBy/user/userPrincipalName":
			return nullable(e.InitiatedByUserUPN)
		}
		return nil
	}
}

func (s *Server) listAudits(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, permDirectory, permsAuditRead...) {
		return
	}
	opts, aerr := readOptions(r, "$filter", "$top", "$skiptoken", "$orderby")
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	top, aerr := opts.pageSize(100, 999)
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	var filter *filterExpr
	if raw, ok := opts["$filter"]; ok {
		if filter, aerr = parseFilter(raw, auditFilter); aerr != nil {
			writeAPIError(w, r, aerr)
			return
		}
	}
	oldestFirst := false
	if raw, ok := opts["$orderby"]; ok {
		switch strings.Join(strings.Fields(raw), " ") {
		case "activityDateTime desc":
		case "activityDateTime", "activityDateTime asc":
			oldestFirst = true
		default:
			writeAPIError(w, r, badRequest(codeBadRequest, "Invalid $orderby '%s': directory audits sort only by activityDateTime.", raw))
			return
		}
	}
	offset, aerr := opts.offset(r.URL.Path)
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	caller := appKey(s.callerApp(r))

	var items []map[string]any
	var wait time.Duration
	s.Update(func(t *Tenant) {
		now := time.Now()
		if wait = t.throttleAuditRead(caller, now); wait > 0 {
			return
		}
		for i := range t.Audits {
			e := t.Audits[len(t.Audits)-1-i]
			if oldestFirst {
				e = t.Audits[i]
			}
			if now.Before(e.listedFrom) {
				continue
			}
			if filter == nil || filter.match(auditGetter(e)) {
				items = append(items, auditProps(e))
			}
		}
	})
	if wait > 0 {
		writeThrottled(w, r, wait)
		return
	}
	items, next := s.page(r, opts, items, offset, top)
	writeJSON(w, http.StatusOK, collection(s.contextURL(r, "auditLogs/directoryAudits"), items, 0, false, next))
}

// throttleAuditRead counts a read of the audit log by app at now, in real
// time since throttling is about request rate, not the emulated clock. It
// returns how long the caller must wait, or 0 when the read may proceed.
func (t *Tenant) throttleAuditRead(app string, now time.Time) time.Duration {
	if t.auditReads == nil {
		t.auditReads = map[string][]time.Time{}
	}
	return takeSlot(t.auditReads, app, now, auditReadLimit, auditReadWindow)
}
