package graphemu

import (
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Role management, PIM for Groups, administrative units and service
// principals: where privilege comes from (see privilege.go).
//
// Where Graph's documentation is unsure, the emulator takes the stricter
// reading, so that a portal that works here does not lean on behaviour a
// real tenant may not have:
//   - the role and PIM listings require a $filter naming the principal (or
//     the role or group), and accept only conjunctions of "eq": "in" lists
//     are refused, since the documentation does not say they work;
//   - an eligibility instance is listed only while its window holds;
//   - assignments and eligibilities list the principal they were made to:
//     a role held through a group lists the group, never its members.

var (
	permsRoleManagementRead = []string{"RoleManagement.Read.Directory", "RoleManagement.Read.All", "RoleManagement.ReadWrite.Directory"}
	permsEligibilityRead    = []string{"RoleEligibilitySchedule.Read.Directory", "RoleManagement.Read.Directory", "RoleManagement.Read.All"}
	permsPIMGroupsRead      = []string{"PrivilegedEligibilitySchedule.Read.AzureADGroup", "PrivilegedAccess.Read.AzureADGroup"}
	permsApplicationsRead   = []string{"Application.Read.All", "Directory.Read.All"}
	permsUnitsRead          = []string{"AdministrativeUnit.Read.All", "Directory.Read.All"}
)

func (s *Server) registerPrivilegeRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1.0/roleManagement/directory/roleDefinitions", s.listRoleDefinitions)
	mux.HandleFunc("GET /v1.0/roleManagement/directory/roleDefinitions/{id}", s.getRoleDefinition)
	mux.HandleFunc("GET /v1.0/roleManagement/directory/roleAssignments", s.listKeyed(roleAssignmentListing))
	mux.HandleFunc("GET /v1.0/roleManagement/directory/roleEligibilityScheduleInstances", s.listKeyed(roleEligibilityListing))
	mux.HandleFunc("GET /v1.0/identityGovernance/privilegedAccess/group/eligibilityScheduleInstances", s.listKeyed(groupEligibilityListing))
	mux.HandleFunc("GET /v1.0/directory/administrativeUnits/{id}", s.getAdministrativeUnit)
	mux.HandleFunc("GET /v1.0/groups/{id}", s.getGroup)
	mux.HandleFunc("GET /v1.0/servicePrincipals/{id}", s.getServicePrincipal)
	mux.HandleFunc("GET /v1.0/servicePrincipals/{id}/appRoleAssignedTo", s.listAppRoleAssignedTo)
}

func renderRoleDefinition(d *RoleDefinition) map[string]any {
	return map[string]any{
		"@odata.type":     "#microsoft.graph.unifiedRoleDefinition",
		"id":              d.ID,
		"description":     nullable(d.Description),
		"displayName":     d.DisplayName,
		"isBuiltIn":       d.BuiltIn,
		"isEnabled":       true,
		"resourceScopes":  []string{"/"},
		"templateId":      d.ID,
		"version":         "1",
		"rolePermissions": []map[string]any{{"allowedResourceActions": []string{}, "condition": nil}},
	}
}

func renderRoleAssignment(a *RoleAssignment) map[string]any {
	return map[string]any{
		"@odata.type":      "#microsoft.graph.unifiedRoleAssignment",
		"id":               a.ID,
		"principalId":      a.PrincipalID,
		"roleDefinitionId": a.RoleDefinitionID,
		"directoryScopeId": a.DirectoryScopeID,
		"appScopeId":       nil,
		"condition":        nil,
	}
}

func renderRoleEligibility(e *RoleEligibility) map[string]any {
	return map[string]any{
		"@odata.type":               "#microsoft.graph.unifiedRoleEligibilityScheduleInstance",
		"id":                        e.ID,
		"principalId":               e.PrincipalID,
		"roleDefinitionId":          e.RoleDefinitionID,
		"directoryScopeId":          e.DirectoryScopeID,
		"appScopeId":                nil,
		"startDateTime":             graphTime(e.Start),
		"endDateTime":               graphTime(e.End),
		"memberType":                "Direct",
		"roleEligibilityScheduleId": e.ID,
	}
}

func renderGroupEligibility(e *GroupEligibility) map[string]any {
	return map[string]any{
		"@odata.type":           "#microsoft.graph.privilegedAccessGroupEligibilityScheduleInstance",
		"id":                    e.ID,
		"accessId":              e.AccessID,
		"principalId":           e.PrincipalID,
		"groupId":               e.GroupID,
		"memberType":            "direct",
		"startDateTime":         graphTime(e.Start),
		"endDateTime":           graphTime(e.End),
		"eligibilityScheduleId": e.ID,
	}
}

// stringSchema is a $filter schema of string properties.
func stringSchema(entity, resource string, names ...string) *filterSchema {
	props := map[string]filterProp{}
	for _, n := range names {
		props[strings.ToLower(n)] = filterProp{n, kindString}
	}
	return &filterSchema{entity: entity, resource: resource, props: props}
}

var (
	roleAssignmentFilter = stringSchema("microsoft.graph.unifiedRoleAssignment", "UnifiedRoleAssignment",
		"principalId", "roleDefinitionId", "directoryScopeId", "appScopeId", "id")
	roleEligibilityFilter = stringSchema("microsoft.graph.unifiedRoleEligibilityScheduleInstance", "UnifiedRoleEligibilityScheduleInstance",
		"principalId", "roleDefinitionId", "directoryScopeId", "appScopeId", "memberType", "id")
	groupEligibilityFilter = stringSchema("microsoft.graph.privilegedAccessGroupEligibilityScheduleInstance", "PrivilegedAccessGroupEligibilityScheduleInstance",
		"principalId", "groupId", "accessId", "memberType", "id")
	roleDefinitionFilter = &filterSchema{entity: "microsoft.graph.unifiedRoleDefinition", resource: "UnifiedRoleDefinition",
		props: map[string]filterProp{"displayname": {"displayName", kindString}, "isbuiltin": {"isBuiltIn", kindBool},
			"id": {"id", kindString}, "templateid": {"templateId", kindString}}}
)

// eqOnly reports whether n is a conjunction of "eq" comparisons, and which
// properties they name.
func eqOnly(n boolNode, named map[string]bool) bool {
	switch x := n.(type) {
	case andNode:
		return eqOnly(x.l, named) && eqOnly(x.r, named)
	case cmpNode:
		named[strings.ToLower(x.prop.name)] = x.op == opEq && x.lit.kind == kindString
		return named[strings.ToLower(x.prop.name)]
	}
	return false
}

// keyedFilter parses a listing's required $filter: a conjunction of eq
// comparisons naming at least one of keys.
func keyedFilter(opts queryOptions, schema *filterSchema, what string, keys ...string) (*filterExpr, *apiError) {
	need := badRequest(codeBadRequest, "Listing %s requires a $filter with %s eq '{id}'; only 'eq' comparisons joined by 'and' are supported.",
		what, strings.Join(keys, " or "))
	raw, ok := opts["$filter"]
	if !ok {
		return nil, need
	}
	f, aerr := parseFilter(raw, schema)
	if aerr != nil {
		return nil, aerr
	}
	named := map[string]bool{}
	if !eqOnly(f.root, named) {
		return nil, need
	}
	for _, k := range keys {
		if named[strings.ToLower(k)] {
			return f, nil
		}
	}
	return nil, need
}

// listFiltered serves a collection the filter selects from items, paged.
func (s *Server) listFiltered(w http.ResponseWriter, r *http.Request, opts queryOptions, f *filterExpr, context string, items []map[string]any) {
	top, aerr := opts.pageSize(100, 999)
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	offset, aerr := opts.offset(r.URL.Path)
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	kept := []map[string]any{}
	for _, it := range items {
		if f == nil || f.match(func(name string) any { return it[name] }) {
			kept = append(kept, it)
		}
	}
	page, next := s.page(r, opts, kept, offset, top)
	writeJSON(w, http.StatusOK, collection(s.contextURL(r, context), page, len(kept), false, next))
}

func (s *Server) listRoleDefinitions(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, permDirectory, permsRoleManagementRead...) {
		return
	}
	opts, aerr := readOptions(r, "$filter", "$top", "$skiptoken", "$select")
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	var f *filterExpr
	if raw, ok := opts["$filter"]; ok {
		if f, aerr = parseFilter(raw, roleDefinitionFilter); aerr != nil {
			writeAPIError(w, r, aerr)
			return
		}
	}
	var items []map[string]any
	s.View(func(t *Tenant) {
		for _, d := range t.RoleDefinitions {
			items = append(items, renderRoleDefinition(d))
		}
	})
	s.listFiltered(w, r, opts, f, "roleManagement/directory/roleDefinitions", items)
}

func (s *Server) getRoleDefinition(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, permDirectory, permsRoleManagementRead...) {
		return
	}
	if _, aerr := readOptions(r, "$select"); aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	var out map[string]any
	s.View(func(t *Tenant) {
		if d := t.RoleDefinitionByID(r.PathValue("id")); d != nil {
			out = renderRoleDefinition(d)
		}
	})
	if out == nil {
		writeAPIError(w, r, notFound(r.PathValue("id")))
		return
	}
	out["@odata.context"] = s.contextURL(r, "roleManagement/directory/roleDefinitions/$entity")
	writeJSON(w, http.StatusOK, out)
}

// keyedListing is a listing that takes a required $filter naming one of
// keys (see keyedFilter).
type keyedListing struct {
	perms   []string
	schema  *filterSchema
	what    string
	keys    []string
	context string
	// items renders the tenant's entries current at now.
	items func(t *Tenant, now time.Time) []map[string]any
}

func (s *Server) listKeyed(l keyedListing) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.authorize(w, r, permDirectory, l.perms...) {
			return
		}
		opts, aerr := readOptions(r, "$filter", "$top", "$skiptoken", "$select")
		if aerr != nil {
			writeAPIError(w, r, aerr)
			return
		}
		f, aerr := keyedFilter(opts, l.schema, l.what, l.keys...)
		if aerr != nil {
			writeAPIError(w, r, aerr)
			return
		}
		now := s.clock.Now()
		var items []map[string]any
		s.View(func(t *Tenant) { items = l.items(t, now) })
		s.listFiltered(w, r, opts, f, l.context, items)
	}
}

var (
	roleAssignmentListing = keyedListing{permsRoleManagementRead, roleAssignmentFilter, "role assignments",
		[]string{"principalId", "roleDefinitionId"}, "roleManagement/directory/roleAssignments",
		func(t *Tenant, _ time.Time) []map[string]any {
			var out []map[string]any
			for _, a := range t.RoleAssignments {
				out = append(out, renderRoleAssignment(a))
			}
			return out
		}}
	roleEligibilityListing = keyedListing{permsEligibilityRead, roleEligibilityFilter, "role eligibility schedule instances",
		[]string{"principalId", "roleDefinitionId"}, "roleManagement/directory/roleEligibilityScheduleInstances",
		func(t *Tenant, now time.Time) []map[string]any {
			var out []map[string]any
			for _, e := range t.RoleEligibilities {
				if current(e.Start, e.End, now) {
					out = append(out, renderRoleEligibility(e))
				}
			}
			return out
		}}
	groupEligibilityListing = keyedListing{permsPIMGroupsRead, groupEligibilityFilter, "group eligibility schedule instances",
		[]string{"principalId", "groupId"}, "identityGovernance/privilegedAccess/group/eligibilityScheduleInstances",
		func(t *Tenant, now time.Time) []map[string]any {
			var out []map[string]any
			for _, e := range t.GroupEligibilities {
				if current(e.Start, e.End, now) {
					out = append(out, renderGroupEligibility(e))
				}
			}
			return out
		}}
)

func (s *Server) getAdministrativeUnit(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, permDirectory, permsUnitsRead...) {
		return
	}
	opts, aerr := readOptions(r, "$select")
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	var out map[string]any
	s.View(func(t *Tenant) {
		if au := t.LookupAdministrativeUnit(r.PathValue("id")); au != nil {
			out = map[string]any{
				"@odata.type": "#microsoft.graph.administrativeUnit", "id": au.ID, "deletedDateTime": nil,
				"displayName": au.DisplayName, "description": nullable(au.Description), "visibility": nil,
			}
		}
	})
	if out == nil {
		writeAPIError(w, r, notFound(r.PathValue("id")))
		return
	}
	s.writeEntity(w, r, opts, "directory/administrativeUnits/$entity", out)
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, permDirectory, permsGroupsRead...) {
		return
	}
	opts, aerr := readOptions(r, "$select")
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	var out map[string]any
	s.View(func(t *Tenant) {
		if g := t.LookupGroup(r.PathValue("id")); g != nil {
			out = renderGroup(g)
		}
	})
	if out == nil {
		writeAPIError(w, r, notFound(r.PathValue("id")))
		return
	}
	s.writeEntity(w, r, opts, "groups/$entity", out)
}

// writeEntity writes one object, projected on $select when given.
func (s *Server) writeEntity(w http.ResponseWriter, r *http.Request, opts queryOptions, context string, out map[string]any) {
	if raw, ok := opts["$select"]; ok {
		var props []string
		for _, p := range strings.Split(raw, ",") {
			p = strings.TrimSpace(p)
			if _, known := out[p]; !known {
				writeAPIError(w, r, badRequest(codeRequestBad, "Could not find a property named '%s' on type '%s'.", p, strings.TrimPrefix(out["@odata.type"].(string), "#")))
				return
			}
			props = append(props, p)
		}
		out = project(out, props)
	}
	out["@odata.context"] = s.contextURL(r, context)
	writeJSON(w, http.StatusOK, out)
}

func renderServicePrincipal(sp *ServicePrincipal) map[string]any {
	roles := make([]map[string]any, len(sp.AppRoles))
	for i, ar := range sp.AppRoles {
		roles[i] = map[string]any{
			"id": ar.ID, "value": ar.Value, "displayName": ar.DisplayName, "description": ar.Description,
			"allowedMemberTypes": []string{"User"}, "isEnabled": true, "origin": "Application",
		}
	}
	return map[string]any{
		"@odata.type": "#microsoft.graph.servicePrincipal", "id": sp.ID, "appId": sp.AppID, "displayName": sp.DisplayName,
		"accountEnabled": true, "appRoleAssignmentRequired": true, "servicePrincipalType": "Application", "appRoles": roles,
	}
}

// appIDKey reads the alternate key of servicePrincipals(appId='...').
var appIDKey = regexp.MustCompile(`^/v1\.0/servicePrincipals\(appId='([^']*)'\)$`)

// servicePrincipalByKey serves GET servicePrincipals(appId='{appId}'),
// which Go's router cannot express as a pattern. It reports whether the
// path was one.
func (s *Server) servicePrincipalByKey(w http.ResponseWriter, r *http.Request) bool {
	m := appIDKey.FindStringSubmatch(r.URL.Path)
	if m == nil || r.Method != http.MethodGet {
		return false
	}
	s.writeServicePrincipal(w, r, func(t *Tenant) *ServicePrincipal { return t.ServicePrincipalByAppID(m[1]) }, "appId="+m[1])
	return true
}

func (s *Server) getServicePrincipal(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.writeServicePrincipal(w, r, func(t *Tenant) *ServicePrincipal {
		for _, sp := range t.ServicePrincipals {
			if strings.EqualFold(sp.ID, id) {
				return sp
			}
		}
		return nil
	}, id)
}

func (s *Server) writeServicePrincipal(w http.ResponseWriter, r *http.Request, find func(*Tenant) *ServicePrincipal, key string) {
	if !s.authorize(w, r, permDirectory, permsApplicationsRead...) {
		return
	}
	opts, aerr := readOptions(r, "$select")
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	var out map[string]any
	s.View(func(t *Tenant) {
		if sp := find(t); sp != nil {
			out = renderServicePrincipal(sp)
		}
	})
	if out == nil {
		writeAPIError(w, r, notFound(key))
		return
	}
	s.writeEntity(w, r, opts, "servicePrincipals/$entity", out)
}

func (s *Server) listAppRoleAssignedTo(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, permDirectory, permsApplicationsRead...) {
		return
	}
	opts, aerr := readOptions(r, "$top", "$skiptoken", "$select")
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	id := r.PathValue("id")
	var items []map[string]any
	found := false
	s.View(func(t *Tenant) {
		for _, sp := range t.ServicePrincipals {
			if !strings.EqualFold(sp.ID, id) {
				continue
			}
			found = true
			for _, a := range sp.Assignments {
				items = append(items, map[string]any{
					"@odata.type": "#microsoft.graph.appRoleAssignment", "id": a.ID, "appRoleId": a.AppRoleID,
					"createdDateTime": graphTime(a.Created), "deletedDateTime": nil, "principalDisplayName": a.PrincipalDisplayName,
					"principalId": a.PrincipalID, "principalType": a.PrincipalType, "resourceDisplayName": sp.DisplayName, "resourceId": sp.ID,
				})
			}
		}
	})
	if !found {
		writeAPIError(w, r, notFound(id))
		return
	}
	s.listFiltered(w, r, opts, nil, "servicePrincipals('"+id+"')/appRoleAssignedTo", items)
}

// AssignAppRole gives principalID the app role of the app appID, as an admin
// does under Enterprise applications › Users and groups.
func (t *Tenant) AssignAppRole(appID, appRoleID, principalID, principalType, name string, now time.Time) bool {
	sp := t.ServicePrincipalByAppID(appID)
	if sp == nil {
		return false
	}
	sp.Assignments = append(sp.Assignments, AppRoleAssignment{ID: newGUID(), AppRoleID: appRoleID, PrincipalID: principalID,
		PrincipalType: principalType, PrincipalDisplayName: name, Created: now})
	return true
}

// RemoveAppRoles removes every app role assignment of principalID on the
// app appID, as an admin removing an operator does.
func (t *Tenant) RemoveAppRoles(appID, principalID string) int {
	sp := t.ServicePrincipalByAppID(appID)
	if sp == nil {
		return 0
	}
	kept := sp.Assignments[:0]
	removed := 0
	for _, a := range sp.Assignments {
		if strings.EqualFold(a.PrincipalID, principalID) {
			removed++
			continue
		}
		kept = append(kept, a)
	}
	sp.Assignments = kept
	return removed
}
