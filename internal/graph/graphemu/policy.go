package graphemu

import (
	"net/http"
	"strings"
)

// tapConfigID is the id of the Temporary Access Pass configuration in the
// authentication methods policy.
const tapConfigID = "TemporaryAccessPass"

// renderPolicy renders the policy as Graph's
// temporaryAccessPassAuthenticationMethodConfiguration. The SDK picks the
// derived type from "@odata.type", so it must be present.
func renderPolicy(p Policy) map[string]any {
	include := make([]map[string]any, 0, len(p.IncludeTargets))
	for _, t := range p.IncludeTargets {
		include = append(include, map[string]any{
			"targetType":             targetType(t),
			"id":                     t.ID,
			"isRegistrationRequired": t.IsRegistrationRequired,
		})
	}
	// Exclusions are Graph's excludeTarget type, which has no
	// isRegistrationRequired: registration cannot be required of someone
	// the policy leaves out.
	exclude := make([]map[string]any, 0, len(p.ExcludeTargets))
	for _, t := range p.ExcludeTargets {
		exclude = append(exclude, map[string]any{"targetType": targetType(t), "id": t.ID})
	}
	return map[string]any{
		"@odata.type":              "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration",
		"id":                       tapConfigID,
		"state":                    p.State,
		"defaultLifetimeInMinutes": p.DefaultLifetimeInMinutes,
		"defaultLength":            p.DefaultLength,
		"minimumLifetimeInMinutes": p.MinimumLifetimeInMinutes,
		"maximumLifetimeInMinutes": p.MaximumLifetimeInMinutes,
		"isUsableOnce":             p.IsUsableOnce,
		"includeTargets":           include,
		"excludeTargets":           exclude,
	}
}

func targetType(t PolicyTarget) string {
	if t.TargetType == "" {
		return "group"
	}
	return t.TargetType
}

func (s *Server) getMethodConfiguration(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, permDirectory, permsPolicyRead...) {
		return
	}
	if _, aerr := readOptions(r); aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	id := r.PathValue("configId")
	if !strings.EqualFold(id, tapConfigID) {
		// The emulator models only the pass's configuration.
		writeAPIError(w, r, notFound(id))
		return
	}
	var out map[string]any
	s.View(func(t *Tenant) { out = renderPolicy(t.Policy) })
	out["@odata.context"] = s.contextURL(r, "policies/authenticationMethodsPolicy/authenticationMethodConfigurations/$entity")
	writeJSON(w, http.StatusOK, out)
}
