package graphemu

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// maxCheckGroups is Graph's limit on the ids of one checkMemberGroups.
const maxCheckGroups = 20

func renderRole(r *Role) map[string]any {
	return map[string]any{
		"@odata.type":     "#microsoft.graph.directoryRole",
		"id":              r.ID,
		"deletedDateTime": nil,
		"description":     nullable(r.Description),
		"displayName":     r.DisplayName,
		"roleTemplateId":  r.TemplateID,
	}
}

func renderGroup(g *Group) map[string]any {
	return map[string]any{
		"@odata.type":        "#microsoft.graph.group",
		"id":                 g.ID,
		"deletedDateTime":    nil,
		"description":        nullable(g.Description),
		"displayName":        g.DisplayName,
		"groupTypes":         []string{},
		"mail":               nullable(g.Mail),
		"mailEnabled":        g.Mail != "",
		"mailNickname":       mailNickname(g.DisplayName),
		"securityEnabled":    true,
		"isAssignableToRole": g.IsAssignableToRole,
	}
}

// mailNickname derives a group's nickname from its name, as the admin
// center proposes one.
func mailNickname(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// memberOfKinds are the casts transitiveMemberOf serves, by the segment's
// type name, with the context fragment of each.
var memberOfKinds = map[string]string{
	"directoryrole":      "directoryRoles",
	"group":              "groups",
	"administrativeunit": "administrativeUnits",
}

// memberOfSelect maps lower-case property names of roles and groups to
// their canonical spelling, for $select.
var memberOfSelect = func() map[string]string {
	m := map[string]string{}
	for name := range renderRole(&Role{}) {
		m[strings.ToLower(name)] = name
	}
	for name := range renderGroup(&Group{}) {
		m[strings.ToLower(name)] = name
	}
	delete(m, "@odata.type")
	return m
}()

func (s *Server) listMemberOf(w http.ResponseWriter, r *http.Request) {
	// The plain listing holds groups and roles, so it needs the
	// permissions of both casts.
	kind := ""
	perms := [][]string{permsGroupsRead, permsRolesRead}
	if cast := r.PathValue("cast"); cast != "" {
		name, ok := strings.CutPrefix(cast, "microsoft.graph.")
		if !ok {
			name, ok = strings.CutPrefix(cast, "graph.")
		}
		kind = strings.ToLower(name)
		if _, known := memberOfKinds[kind]; !ok || !known {
			if !s.authorize(w, r, permDirectory) {
				return
			}
			writeAPIError(w, r, badRequest(codeBadRequest, "Resource not found for the segment '%s'.", cast))
			return
		}
		switch kind {
		case "directoryrole":
			perms = [][]string{permsRolesRead}
		case "group", "administrativeunit":
			perms = [][]string{permsGroupsRead}
		}
	}
	for _, p := range perms {
		if !s.authorize(w, r, permDirectory, p...) {
			return
		}
	}
	opts, aerr := readOptions(r, "$select", "$top", "$count", "$skiptoken")
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	top, aerr := opts.pageSize(100, 999)
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	count, aerr := opts.count(r)
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	sel, aerr := opts.selection(memberOfSelect, "microsoft.graph.directoryObject")
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	offset, aerr := opts.offset(r.URL.Path)
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}

	id := r.PathValue("id")
	found := false
	items := []map[string]any{}
	s.View(func(t *Tenant) {
		u := t.LookupUser(id)
		if u == nil {
			return
		}
		found = true
		if kind == "" || kind == "group" {
			for _, g := range t.TransitiveGroups(u.ID) {
				items = append(items, renderGroup(g))
			}
		}
		if kind == "" || kind == "directoryrole" {
			for _, role := range t.RolesOf(u.ID) {
				items = append(items, renderRole(role))
			}
		}
	})
	if !found {
		writeAPIError(w, r, notFound(id))
		return
	}
	page, next := s.page(r, opts, items, offset, top)
	if sel != nil {
		for i, it := range page {
			page[i] = project(it, sel)
		}
	}
	fragment := "directoryObjects"
	if kind != "" {
		fragment = memberOfKinds[kind]
	}
	writeJSON(w, http.StatusOK, collection(s.contextURL(r, fragment), page, len(items), count, next))
}

func (s *Server) checkMemberGroups(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, permDirectory, permsGroupsRead...) {
		return
	}
	if _, aerr := readOptions(r); aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	var body struct {
		GroupIDs []string `json:"groupIds"`
	}
	raw, _ := io.ReadAll(r.Body)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.GroupIDs == nil {
		writeAPIError(w, r, badRequest(codeRequestBad, "The request body must be a JSON object with a groupIds array of strings."))
		return
	}
	if len(body.GroupIDs) > maxCheckGroups {
		writeAPIError(w, r, badRequest(codeRequestBad, "Too many groupIds: %d were given, at most %d are allowed.", len(body.GroupIDs), maxCheckGroups))
		return
	}

	id := r.PathValue("id")
	found := false
	in := []string{}
	s.View(func(t *Tenant) {
		u := t.LookupUser(id)
		if u == nil {
			return
		}
		found = true
		member := map[string]bool{}
		for _, g := range t.TransitiveGroups(u.ID) {
			member[strings.ToLower(g.ID)] = true
		}
		seen := map[string]bool{}
		for _, gid := range body.GroupIDs {
			key := strings.ToLower(gid)
			if member[key] && !seen[key] {
				seen[key] = true
				in = append(in, gid)
			}
		}
	})
	if !found {
		writeAPIError(w, r, notFound(id))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"@odata.context": s.contextURL(r, "Collection(Edm.String)"),
		"value":          in,
	})
}
