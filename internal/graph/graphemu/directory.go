package graphemu

import (
	"net/http"
	"strings"
)

// The application permissions each route accepts, any one of which will
// do. They follow Graph's documentation for app-only calls, keeping to the
// least privileged ones where the documentation lists many, so that a
// portal missing a permission fails here as it would in a real tenant.
var (
	permsUsersRead   = []string{"User.Read.All", "User.ReadWrite.All", "Directory.Read.All"}
	permsMethodsRead = []string{"UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All"}
	// The pass routes also take the permissions scoped to passes alone,
	// which do not reach the other methods.
	permsTAPRead    = []string{"UserAuthMethod-TAP.Read.All", "UserAuthMethod-TAP.ReadWrite.All", "UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All"}
	permsTAPWrite   = []string{"UserAuthMethod-TAP.ReadWrite.All", "UserAuthenticationMethod.ReadWrite.All"}
	permsPolicyRead = []string{"Policy.Read.All"}
	permsRolesRead  = []string{"RoleManagement.Read.Directory", "Directory.Read.All"}
	permsGroupsRead = []string{"GroupMember.Read.All", "Directory.Read.All"}
	permsAuditRead  = []string{"AuditLog.Read.All"}
)

// registerGraphRoutes lists every Graph v1.0 route the emulator serves.
// Path values arrive unescaped, so a guest's UPN sent with %23 for "#"
// reads back with its "#".
func (s *Server) registerGraphRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1.0/users", s.listUsers)
	mux.HandleFunc("GET /v1.0/users/{id}", s.getUser)
	mux.HandleFunc("GET /v1.0/users/{id}/authentication/methods", s.listMethods)
	mux.HandleFunc("GET /v1.0/users/{id}/authentication/temporaryAccessPassMethods", s.listTAPs)
	mux.HandleFunc("POST /v1.0/users/{id}/authentication/temporaryAccessPassMethods", s.createTAP)
	mux.HandleFunc("GET /v1.0/users/{id}/authentication/temporaryAccessPassMethods/{tapId}", s.getTAP)
	mux.HandleFunc("DELETE /v1.0/users/{id}/authentication/temporaryAccessPassMethods/{tapId}", s.deleteTAP)
	mux.HandleFunc("GET /v1.0/users/{id}/transitiveMemberOf", s.listMemberOf)
	mux.HandleFunc("GET /v1.0/users/{id}/transitiveMemberOf/{cast}", s.listMemberOf)
	mux.HandleFunc("POST /v1.0/users/{id}/checkMemberGroups", s.checkMemberGroups)
	mux.HandleFunc("GET /v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/{configId}", s.getMethodConfiguration)
	mux.HandleFunc("GET /v1.0/auditLogs/directoryAudits", s.listAudits)
	mux.HandleFunc("/v1.0/", s.unknownResource)
}

// unknownResource answers what no route serves as Graph does: a 405 for
// a known resource asked with another method, otherwise a 400 that names
// the segment it could not resolve, rather than a bare 404.
func (s *Server) unknownResource(w http.ResponseWriter, r *http.Request) {
	if s.servicePrincipalByKey(w, r) {
		return
	}
	if !s.authorize(w, r, permDirectory) {
		return
	}
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.graph.Handler(probe); pattern != "/v1.0/" && pattern != "" {
			writeAPIError(w, r, &apiError{status: http.StatusMethodNotAllowed, code: codeRequestBad,
				msg: "Specified HTTP method is not allowed for the request target."})
			return
		}
	}
	segments := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	writeAPIError(w, r, badRequest(codeBadRequest, "Resource not found for the segment '%s'.", segments[len(segments)-1]))
}
