package issuance

import (
	"slices"
	"strings"

	"github.com/tapportal/portal/internal/portal"
)

// Privilege is one way a user holds, or can reach, power the portal
// protects: a directory role (active or PIM-eligible, at any scope,
// directly or through a group) or one of the portal's own app roles.
type Privilege struct {
	// Staff is set for one of the portal's own app roles.
	Staff bool
	// RoleID and BuiltIn describe a directory role.
	RoleID  string
	BuiltIn bool
	// Text says how the privilege is held, for a page and a record:
	// "eligible for Global Administrator through PIM".
	Text string
}

// privileges lists, in a stable order, every way the facts say the user
// holds privilege. A grant to a principal the facts cannot place is
// still listed, as held: the stricter reading.
func privileges(f facts) []Privilege {
	var out []Privilege
	for _, g := range f.grants {
		out = append(out, Privilege{RoleID: g.RoleID, BuiltIn: g.BuiltIn, Text: grantText(f, g)})
	}
	if f.staff != nil {
		for _, h := range f.staff.Holders {
			direct := strings.EqualFold(h.PrincipalID, f.user.ID)
			if !direct && !(h.Group && f.in(h.PrincipalID)) {
				continue
			}
			role, ok := f.staff.Role(h.AppRoleID)
			name := role.Name
			if !ok || name == "" {
				name = "default access"
			}
			app := f.staff.AppName
			if app == "" {
				app = "portal"
			}
			text := "holds the " + app + " role " + name
			if !direct {
				text += " through the group " + nameOr(h.PrincipalName, h.PrincipalID)
			}
			out = append(out, Privilege{Staff: true, Text: text})
		}
	}
	slices.SortStableFunc(out, func(a, b Privilege) int { return strings.Compare(a.Text, b.Text) })
	return slices.CompactFunc(out, func(a, b Privilege) bool { return a.Text == b.Text })
}

// grantText says how the user holds g.
func grantText(f facts, g portal.RoleGrant) string {
	var b strings.Builder
	if g.Eligible {
		b.WriteString("eligible for ")
	}
	b.WriteString(g.RoleName)
	switch {
	case g.ScopeID == portal.TenantScope:
	case strings.HasPrefix(g.ScopeID, "/administrativeUnits/"):
		b.WriteString(" in administrative unit " + nameOr(g.ScopeName, strings.TrimPrefix(g.ScopeID, "/administrativeUnits/")))
	default:
		b.WriteString(" on the directory object " + strings.TrimPrefix(g.ScopeID, "/"))
	}
	if strings.EqualFold(g.PrincipalID, f.user.ID) {
		if g.Eligible {
			b.WriteString(" through PIM")
		}
		return b.String()
	}
	name := g.PrincipalName
	if grp, ok := f.group(g.PrincipalID); ok && name == "" {
		name = grp.DisplayName
	}
	b.WriteString(" through the group " + nameOr(name, g.PrincipalID))
	if f.in(g.PrincipalID) {
		return b.String()
	}
	for _, pg := range f.pimGroups {
		if strings.EqualFold(pg.GroupID, g.PrincipalID) {
			if pg.Access == "owner" {
				return b.String() + ", which they can own through PIM"
			}
			return b.String() + ", which they can join through PIM"
		}
	}
	return b.String()
}

func nameOr(name, fallback string) string {
	if name != "" {
		return name
	}
	return fallback
}

// protects reports whether the guardrails protect the holder of p. Every
// directory role does by default; with a list, the roles on it do, and so
// does every custom role not explicitly allowed.
func (r Guardrails) protects(p Privilege) bool {
	if p.Staff {
		return r.ProtectStaff
	}
	if len(r.ProtectedRoleIDs) == 0 {
		return true
	}
	has := func(ids []string) bool {
		return slices.ContainsFunc(ids, func(id string) bool { return strings.EqualFold(id, p.RoleID) })
	}
	return has(r.ProtectedRoleIDs) || !p.BuiltIn && !has(r.AllowedCustomRoleIDs)
}

// protected names the privileges of f that the guardrails protect, for
// the history; "" when there are none.
func (s *Service) protected(f facts) string {
	var texts []string
	for _, p := range privileges(f) {
		if s.rails.protects(p) {
			texts = append(texts, p.Text)
		}
	}
	return strings.Join(texts, "; ")
}
