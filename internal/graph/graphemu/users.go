package graphemu

import (
	"net/http"
	"slices"
	"sort"
	"strings"
)

// userDefaultProps are the properties Graph returns for a user when the
// request has no $select.
var userDefaultProps = []string{
	"businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
	"officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id",
}

// userProps renders every user property the emulator knows. Properties it
// does not model are null, as they are for a user on whom they are unset:
// $select accepts them as Graph does.
func userProps(u *User) map[string]any {
	local, _, _ := strings.Cut(u.UserPrincipalName, "@")
	var sync, creation, external any
	if u.OnPremisesSyncEnabled {
		sync = true
	}
	proxy := []string{}
	if u.Mail != "" {
		proxy = append(proxy, "SMTP:"+u.Mail)
	}
	if strings.EqualFold(u.UserType, "Guest") {
		creation, external = "Invitation", "Accepted"
	}
	phones := u.BusinessPhones
	if phones == nil {
		phones = []string{}
	}
	return map[string]any{
		"id":                              u.ID,
		"displayName":                     nullable(u.DisplayName),
		"givenName":                       nullable(u.GivenName),
		"surname":                         nullable(u.Surname),
		"userPrincipalName":               u.UserPrincipalName,
		"mail":                            nullable(u.Mail),
		"mailNickname":                    nullable(local),
		"jobTitle":                        nullable(u.JobTitle),
		"department":                      nullable(u.Department),
		"officeLocation":                  nullable(u.OfficeLocation),
		"mobilePhone":                     nullable(u.MobilePhone),
		"businessPhones":                  phones,
		"preferredLanguage":               nil,
		"employeeId":                      nullable(u.EmployeeID),
		"accountEnabled":                  u.AccountEnabled,
		"userType":                        nullable(u.UserType),
		"onPremisesSyncEnabled":           sync,
		"createdDateTime":                 graphTime(u.CreatedDateTime),
		"creationType":                    creation,
		"externalUserState":               external,
		"otherMails":                      []string{},
		"proxyAddresses":                  proxy,
		"companyName":                     nil,
		"city":                            nil,
		"country":                         nil,
		"state":                           nil,
		"streetAddress":                   nil,
		"postalCode":                      nil,
		"usageLocation":                   nil,
		"employeeType":                    nil,
		"employeeHireDate":                nil,
		"faxNumber":                       nil,
		"ageGroup":                        nil,
		"passwordPolicies":                nil,
		"lastPasswordChangeDateTime":      nil,
		"onPremisesImmutableId":           nil,
		"onPremisesSamAccountName":        nil,
		"onPremisesUserPrincipalName":     nil,
		"onPremisesDomainName":            nil,
		"onPremisesLastSyncDateTime":      nil,
		"onPremisesDistinguishedName":     nil,
		"onPremisesSecurityIdentifier":    nil,
		"deletedDateTime":                 nil,
		"securityIdentifier":              nil,
		"showInAddressList":               nil,
		"signInSessionsValidFromDateTime": nil,
		"signInActivity":                  signInActivity(u),
	}
}

// signInActivity renders the user's last sign-in as Graph does: null for
// a user who never signed in. The emulator models interactive sign-ins
// that succeeded, so the last sign-in and the last successful one agree.
func signInActivity(u *User) any {
	if u.LastSignIn.IsZero() {
		return nil
	}
	at := graphTime(u.LastSignIn)
	return map[string]any{
		"lastSignInDateTime": at, "lastSignInRequestId": u.ID,
		"lastSuccessfulSignInDateTime": at, "lastSuccessfulSignInRequestId": u.ID,
		"lastNonInteractiveSignInDateTime": nil, "lastNonInteractiveSignInRequestId": nil,
	}
}

// isGUID reports whether s is an object id in its 8-4-4-4-12 hex form.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'):
			return false
		}
	}
	return true
}

// allowSignInActivity answers as Graph does when a read selects
// signInActivity: it needs AuditLog.Read.All on top of the user read, a
// tenant with Entra ID P1, and the user's object id rather than their
// UPN (byID is empty for a list).
func (s *Server) allowSignInActivity(w http.ResponseWriter, r *http.Request, sel []string, byID string) bool {
	if !slices.Contains(sel, "signInActivity") {
		return true
	}
	if !s.authorize(w, r, permDirectory, permsAuditRead...) {
		return false
	}
	var free bool
	s.View(func(t *Tenant) { free = t.NoPremium })
	if free {
		writeAPIError(w, r, &apiError{status: http.StatusForbidden, code: "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
			msg: "Neither tenant is B2C or tenant doesn't have premium license"})
		return false
	}
	if byID != "" && !isGUID(byID) {
		writeAPIError(w, r, badRequest(codeRequestBad, "Get By Key only supports UserId and the key has to be a valid Guid"))
		return false
	}
	return true
}

// userKnownProps maps lower-case user property names to their canonical
// spelling, for $select.
var userKnownProps = func() map[string]string {
	m := map[string]string{}
	for name := range userProps(&User{}) {
		m[strings.ToLower(name)] = name
	}
	return m
}()

// userFilter is what $filter may use on users without an advanced query,
// as Graph documents it for the properties the portal needs.
var userFilter = func() *filterSchema {
	s := &filterSchema{entity: "microsoft.graph.user", resource: "User", props: map[string]filterProp{}, known: map[string]bool{}}
	for _, p := range []filterProp{
		{"displayName", kindString}, {"userPrincipalName", kindString}, {"mail", kindString},
		{"givenName", kindString}, {"surname", kindString}, {"accountEnabled", kindBool},
		{"userType", kindString}, {"id", kindString}, {"employeeId", kindString},
	} {
		s.props[strings.ToLower(p.name)] = p
	}
	for lower := range userKnownProps {
		if _, ok := s.props[lower]; !ok {
			s.known[lower] = true
		}
	}
	return s
}()

// userSearchProps are the properties $search can name on users.
var userSearchProps = map[string]string{
	"displayname": "displayName", "givenname": "givenName", "surname": "surname",
	"mail": "mail", "userprincipalname": "userPrincipalName", "mailnickname": "mailNickname",
}

// userOrderProps are the properties $orderby can name on users.
var userOrderProps = map[string]string{"displayname": "displayName", "userprincipalname": "userPrincipalName"}

// userGetter returns a filter getter over a rendered user.
func userGetter(props map[string]any) func(string) any {
	return func(name string) any { return props[name] }
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, permDirectory, permsUsersRead...) {
		return
	}
	opts, aerr := readOptions(r, "$filter", "$search", "$select", "$top", "$count", "$orderby", "$skiptoken")
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	q, aerr := parseUserQuery(r, opts)
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}

	var matched []map[string]any
	unsupported := false
	s.View(func(t *Tenant) {
		if unsupported = q.search != nil && t.SearchUnsupported; unsupported {
			return
		}
		for _, u := range t.Users {
			props := userProps(u)
			get := userGetter(props)
			if q.filter != nil && !q.filter.match(get) || q.search != nil && !q.search.match(get) {
				continue
			}
			matched = append(matched, props)
		}
	})
	if unsupported {
		writeAPIError(w, r, badRequest(codeUnsupportedQuery, "$search is not supported on this tenant."))
		return
	}
	if q.orderBy != "" {
		sort.SliceStable(matched, func(i, j int) bool {
			c, _ := compareValues(orEmpty(matched[i][q.orderBy]), orEmpty(matched[j][q.orderBy]))
			if q.descending {
				return c > 0
			}
			return c < 0
		})
	}
	if !s.allowSignInActivity(w, r, q.selected(), "") {
		return
	}
	items, next := s.page(r, opts, matched, q.offset, q.top)
	out := make([]map[string]any, len(items))
	for i, props := range items {
		out[i] = project(props, q.selected())
	}
	writeJSON(w, http.StatusOK, collection(s.contextURL(r, "users"+q.contextSuffix()), out, len(matched), q.count, next))
}

func orEmpty(v any) any {
	if v == nil {
		return ""
	}
	return v
}

// userQuery is a checked users listing request.
type userQuery struct {
	filter     *filterExpr
	search     searchExpr
	sel        []string
	top        int
	count      bool
	orderBy    string
	descending bool
	offset     int
}

func (q *userQuery) selected() []string {
	if q.sel != nil {
		return q.sel
	}
	return userDefaultProps
}

func (q *userQuery) contextSuffix() string {
	if q.sel == nil {
		return ""
	}
	return "(" + strings.Join(q.sel, ",") + ")"
}

func parseUserQuery(r *http.Request, opts queryOptions) (*userQuery, *apiError) {
	q := &userQuery{}
	var err *apiError
	if q.top, err = opts.pageSize(100, 999); err != nil {
		return nil, err
	}
	if q.count, err = opts.count(r); err != nil {
		return nil, err
	}
	if q.sel, err = opts.selection(userKnownProps, "microsoft.graph.user"); err != nil {
		return nil, err
	}
	if raw, ok := opts["$filter"]; ok {
		if q.filter, err = parseFilter(raw, userFilter); err != nil {
			return nil, err
		}
		if q.filter.advanced && !(eventual(r) && q.count) {
			return nil, badRequest(codeUnsupportedQuery,
				"Unsupported or invalid query filter clause: this filter (ne, not, endsWith or a null comparison) is an advanced query and needs the header 'ConsistencyLevel: eventual' and $count=true.")
		}
	}
	if raw, ok := opts["$search"]; ok {
		if !eventual(r) {
			return nil, badRequest(codeUnsupportedQuery,
				"Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'")
		}
		if q.search, err = parseSearch(raw, userSearchProps, "User"); err != nil {
			return nil, err
		}
	}
	if raw, ok := opts["$orderby"]; ok {
		if err := q.parseOrderBy(raw); err != nil {
			return nil, err
		}
		// Graph sorts a filtered or searched listing only as an advanced
		// query.
		if (q.filter != nil || q.search != nil) && !(eventual(r) && q.count) {
			return nil, badRequest(codeUnsupportedQuery, "Sorting not supported for current query.")
		}
	}
	if q.offset, err = opts.offset(r.URL.Path); err != nil {
		return nil, err
	}
	return q, nil
}

func (q *userQuery) parseOrderBy(raw string) *apiError {
	fields := strings.Fields(raw)
	if len(fields) == 0 || len(fields) > 2 {
		return badRequest(codeBadRequest, "Syntax error in $orderby '%s': expected a property and optionally asc or desc.", raw)
	}
	if len(fields) == 2 {
		switch fields[1] {
		case "asc":
		case "desc":
			q.descending = true
		default:
			return badRequest(codeBadRequest, "Syntax error in $orderby '%s': expected asc or desc after the property.", raw)
		}
	}
	canonical, ok := userOrderProps[strings.ToLower(fields[0])]
	if !ok {
		if _, known := userKnownProps[strings.ToLower(fields[0])]; known {
			return badRequest(codeUnsupportedQuery, "Sorting by '%s' is not supported.", fields[0])
		}
		return badRequest(codeRequestBad, "Could not find a property named '%s' on type 'microsoft.graph.user'.", fields[0])
	}
	q.orderBy = canonical
	return nil
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	id, sel, ok := s.readUserSelection(w, r, "microsoft.graph.user")
	if !ok {
		return
	}
	var props map[string]any
	s.View(func(t *Tenant) {
		if u := t.LookupUser(id); u != nil {
			props = userProps(u)
		}
	})
	if props == nil {
		writeAPIError(w, r, notFound(id))
		return
	}
	context := "users/$entity"
	if sel == nil {
		sel = userDefaultProps
	} else {
		context = "users(" + strings.Join(sel, ",") + ")/$entity"
	}
	out := project(props, sel)
	out["@odata.context"] = s.contextURL(r, context)
	writeJSON(w, http.StatusOK, out)
}

// readUserSelection checks what every read of one user checks: the
// caller's permission, the query (only $select, of properties the type
// has), and whether it may read sign-in activity. It has answered the
// request when ok is false.
func (s *Server) readUserSelection(w http.ResponseWriter, r *http.Request, entity string) (id string, sel []string, ok bool) {
	if !s.authorize(w, r, permDirectory, permsUsersRead...) {
		return "", nil, false
	}
	opts, aerr := readOptions(r, "$select")
	if aerr == nil {
		sel, aerr = opts.selection(userKnownProps, entity)
	}
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return "", nil, false
	}
	id = r.PathValue("id")
	return id, sel, s.allowSignInActivity(w, r, sel, id)
}
