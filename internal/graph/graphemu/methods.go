package graphemu

import (
	"maps"
	"net/http"
	"time"
)

// PasswordMethodID is the id Graph gives every user's password method.
const PasswordMethodID = "28c10230-6103-485e-b985-444c60001490"

// Method types, as the OData type names without their namespace.
const (
	MethodEmail         = "emailAuthenticationMethod"
	MethodFido2         = "fido2AuthenticationMethod"
	MethodAuthenticator = "microsoftAuthenticatorAuthenticationMethod"
	MethodPassword      = "passwordAuthenticationMethod"
	MethodPhone         = "phoneAuthenticationMethod"
	MethodPlatform      = "platformCredentialAuthenticationMethod"
	MethodSoftwareOath  = "softwareOathAuthenticationMethod"
	MethodTAP           = "temporaryAccessPassAuthenticationMethod"
	MethodWindowsHello  = "windowsHelloForBusinessAuthenticationMethod"
)

// methodHasCreated lists the method types whose v1.0 resource carries
// createdDateTime; the others have none.
var methodHasCreated = map[string]bool{
	MethodFido2: true, MethodAuthenticator: true, MethodWindowsHello: true, MethodPlatform: true, MethodPassword: true,
}

// renderMethod renders a registered method with its type's properties.
func renderMethod(m *Method) map[string]any {
	out := map[string]any{"@odata.type": "#microsoft.graph." + m.Type, "id": m.ID}
	maps.Copy(out, m.Props)
	if methodHasCreated[m.Type] {
		out["createdDateTime"] = graphTime(m.Created)
	}
	return out
}

// passwordMethod is the password every user has; Graph never reveals
// when it was set on this resource, nor the password.
func passwordMethod() map[string]any {
	return map[string]any{
		"@odata.type":     "#microsoft.graph." + MethodPassword,
		"id":              PasswordMethodID,
		"password":        nil,
		"createdDateTime": nil,
	}
}

// renderTAP renders a Temporary Access Pass as Graph's reads show it: the
// passcode is null.
func renderTAP(t *Tenant, u *User, now time.Time) map[string]any {
	usable, reason := t.TAPUsability(u, now)
	p := u.TAP
	return map[string]any{
		"@odata.type":           "#microsoft.graph." + MethodTAP,
		"id":                    p.ID,
		"temporaryAccessPass":   nil,
		"createdDateTime":       graphTime(p.Created),
		"startDateTime":         graphTime(p.Start),
		"lifetimeInMinutes":     p.LifetimeMinutes,
		"isUsableOnce":          p.UsableOnce,
		"isUsable":              usable,
		"methodUsabilityReason": reason,
	}
}

func (s *Server) listMethods(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, permAuthMethods, permsMethodsRead...) {
		return
	}
	if _, aerr := readOptions(r); aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	id := r.PathValue("id")
	now := s.clock.Now()
	var items []map[string]any
	var userID string
	s.View(func(t *Tenant) {
		u := t.LookupUser(id)
		if u == nil {
			return
		}
		userID = u.ID
		items = append(items, passwordMethod())
		for _, m := range u.Methods {
			items = append(items, renderMethod(m))
		}
		if v := t.readView(u); v.TAP != nil {
			items = append(items, renderTAP(t, v, now))
		}
	})
	if userID == "" {
		writeAPIError(w, r, notFound(id))
		return
	}
	writeJSON(w, http.StatusOK, collection(s.contextURL(r, "users('"+userID+"')/authentication/methods"), items, 0, false, ""))
}
