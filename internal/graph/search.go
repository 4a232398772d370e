package graph

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/tapportal/portal/internal/graph/query"
	"github.com/tapportal/portal/internal/portal"
)

// PageSize is the number of users a search page holds: as many as one
// $batch reads the passes of.
const PageSize = 20

// maxEmployeeID is the longest employee id Entra stores.
const maxEmployeeID = 16

// A cursor is the search form's letter, a colon and Graph's skip token,
// so that the next page asks Graph the same way.
const (
	formWords  = "w"
	formPrefix = "p"
)

// SearchUsers implements portal.Directory. The first page costs two
// round trips: one $batch with the search (and the employee-id lookup),
// one $batch with the passes of the users found.
func (c *Client) SearchUsers(ctx context.Context, term, cursor string) (portal.UserPage, error) {
	q, err := query.CleanSearch(term)
	if err != nil {
		return portal.UserPage{}, err
	}
	ctx, cancel := c.call(ctx)
	defer cancel()
	var page portal.UserPage
	switch {
	case cursor != "":
		form, token, ok := strings.Cut(cursor, ":")
		if !ok || token == "" || len(cursor) > 4096 || form != formWords && form != formPrefix {
			return portal.UserPage{}, &portal.Error{Code: portal.EInvalid, Field: "cursor", Message: "The page cursor is malformed. Start the search again."}
		}
		page, err = c.searchNext(ctx, q, form, token)
	case query.IsObjectID(q):
		page, err = c.searchFirst(ctx, q, c.usersQuery(query.IDFilter("id", q), ""), nil, formPrefix)
	case !query.HasWord(q):
		page, err = c.searchFirst(ctx, q, c.usersQuery(query.SearchFilter(q), ""), nil, formPrefix)
	default:
		var byEmployee *users.UsersRequestBuilderGetRequestConfiguration
		if !strings.ContainsFunc(q, unicode.IsSpace) && utf8.RuneCountInString(q) <= maxEmployeeID {
			byEmployee = c.usersQuery(query.IDFilter("employeeId", q), "")
		}
		page, err = c.searchFirst(ctx, q, c.usersQuery("", query.SearchExpr(q)), byEmployee, formWords)
		if unsupportedQuery(err) {
			// This tenant has no $search: the start of the names will do,
			// and the page says so.
			page, err = c.searchFirst(ctx, q, c.usersQuery(query.SearchFilter(q), ""), nil, formPrefix)
			page.Prefix = true
		}
	}
	if err != nil {
		return portal.UserPage{}, err
	}
	c.readPasses(ctx, page.Users)
	return page, nil
}

// usersQuery is a users listing with the search's filter or $search, its
// count and the fields a result row shows. Counting needs eventual
// consistency, which also lets the filter and $search run as advanced
// queries.
func (c *Client) usersQuery(filter, search string) *users.UsersRequestBuilderGetRequestConfiguration {
	top, count := int32(PageSize), true
	qp := &users.UsersRequestBuilderGetQueryParameters{Select: userFields, Top: &top, Count: &count}
	if filter != "" {
		qp.Filter = &filter
	}
	if search != "" {
		qp.Search = &search
	}
	headers := abstractions.NewRequestHeaders()
	headers.Add("ConsistencyLevel", "eventual")
	return &users.UsersRequestBuilderGetRequestConfiguration{QueryParameters: qp, Headers: headers}
}

// searchFirst reads the first page of cfg, together with byEmployee when
// set, in one $batch. Employee-id matches come first.
func (c *Client) searchFirst(ctx context.Context, q string, cfg, byEmployee *users.UsersRequestBuilderGetRequestConfiguration, form string) (portal.UserPage, error) {
	batch := c.newBatch()
	add := func(cfg *users.UsersRequestBuilderGetRequestConfiguration) (string, error) {
		info, err := c.sdk.Users().ToGetRequestInformation(ctx, cfg)
		return batch.add(opUsers, info, err)
	}
	mainID, err := add(cfg)
	if err != nil {
		return portal.UserPage{}, err
	}
	employeeID := ""
	if byEmployee != nil {
		if employeeID, err = add(byEmployee); err != nil {
			return portal.UserPage{}, err
		}
	}
	resp, err := c.send(ctx, batch, opUsers)
	if err != nil {
		return portal.UserPage{}, err
	}
	found, err := resp.body(mainID, opUsers)
	if err != nil {
		return portal.UserPage{}, err
	}
	page, err := userPage(found, form)
	if err != nil {
		return portal.UserPage{}, err
	}
	if employeeID == "" {
		return page, nil
	}
	byID, err := resp.body(employeeID, opUsers)
	if err != nil {
		return portal.UserPage{}, err
	}
	byIDUsers, err := listedUsers(byID)
	if err != nil {
		return portal.UserPage{}, err
	}
	var first []portal.UserMatch
	for _, u := range byIDUsers {
		m := portal.UserMatch{User: u}
		if !strings.EqualFold(m.EmployeeID, q) {
			continue // Graph matched more than asked: leave it out.
		}
		dup := false
		for i, have := range page.Users {
			if have.ID == m.ID {
				page.Users = append(page.Users[:i], page.Users[i+1:]...)
				dup = true
				break
			}
		}
		if !dup {
			page.Count++
		}
		first = append(first, m)
	}
	page.Users = append(first, page.Users...)
	return page, nil
}

// searchNext reads a following page of the search form names.
func (c *Client) searchNext(ctx context.Context, q, form, token string) (portal.UserPage, error) {
	// An id lookup has one page, so a following page is of the word
	// search or of the prefix filter.
	cfg := c.usersQuery("", query.SearchExpr(q))
	if form == formPrefix {
		cfg = c.usersQuery(query.SearchFilter(q), "")
	}
	// The cursor is only Graph's skip token: the rest of the next page's
	// URL is rebuilt here, so a client cannot point the portal (and its
	// bearer token) at another URL.
	builder := c.sdk.Users()
	info, err := builder.ToGetRequestInformation(ctx, cfg)
	if err != nil {
		return portal.UserPage{}, translate(opUsers, err)
	}
	u, err := info.GetUri()
	if err != nil {
		return portal.UserPage{}, translate(opUsers, err)
	}
	v := u.Query()
	v.Set("$skiptoken", token)
	u.RawQuery = strings.ReplaceAll(v.Encode(), "%24", "$")
	info.SetUri(*u)
	resp, err := c.getJSON(ctx, info, opUsers)
	if err != nil {
		return portal.UserPage{}, err
	}
	page, err := userPage(resp, form)
	page.Prefix = form == formPrefix && query.HasWord(q)
	return page, err
}

// listedUsers reads a listing page of users, each of which must have an id.
func listedUsers(resp *wireBody) ([]portal.User, error) {
	items, err := resp.listed(opUsers)
	if err != nil {
		return nil, err
	}
	out := make([]portal.User, len(items))
	for i := range items {
		if out[i], err = (&wireBody{wireObject: items[i]}).userOf(opUsers); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// userPage reads one listing page into a search page.
func userPage(resp *wireBody, form string) (portal.UserPage, error) {
	page := portal.UserPage{Count: deref(resp.Count)}
	found, err := listedUsers(resp)
	if err != nil {
		return page, err
	}
	for _, u := range found {
		page.Users = append(page.Users, portal.UserMatch{User: u})
	}
	page.Count = max(page.Count, len(page.Users))
	if next := resp.NextLink; next != "" {
		token := skipToken(next)
		if token == "" {
			return page, &portal.Error{Code: portal.EInternal, Message: "Microsoft Graph sent a next-page link without a skip token."}
		}
		page.Next = form + ":" + token
	}
	return page, nil
}

func skipToken(nextLink string) string {
	u, err := url.Parse(nextLink)
	if err != nil {
		return ""
	}
	return u.Query().Get("$skiptoken")
}

// unsupportedQuery reports whether err is Graph refusing the form of a
// query (400 Request_UnsupportedQuery), as a tenant without $search does.
func unsupportedQuery(err error) bool {
	var odata *odataerrors.ODataError
	if !errors.As(err, &odata) || odata.ResponseStatusCode != http.StatusBadRequest {
		return false
	}
	main := odata.GetErrorEscaped()
	return main != nil && strings.EqualFold(deref(main.GetCode()), "Request_UnsupportedQuery")
}

// readPasses reads the pass of every user found, in one $batch (a page
// holds at most as many users as a batch holds requests). A pass that
// cannot be read is marked unknown on its row: the search still stands.
func (c *Client) readPasses(ctx context.Context, found []portal.UserMatch) {
	if len(found) == 0 {
		return
	}
	unknown := func(ms []portal.UserMatch) {
		for i := range ms {
			ms[i].TAPUnknown = true
		}
	}
	batch := c.newBatch()
	ids := make([]string, len(found))
	for i, m := range found {
		info, err := c.sdk.Users().ByUserId(m.ID).Authentication().TemporaryAccessPassMethods().ToGetRequestInformation(ctx, nil)
		if ids[i], err = batch.add(opTAPRead, info, err); err != nil {
			unknown(found)
			return
		}
	}
	resp, err := c.send(ctx, batch, opTAPRead)
	if err != nil {
		unknown(found)
		return
	}
	for i := range found {
		passes, err := resp.body(ids[i], opTAPRead)
		if err == nil {
			found[i].TAP, err = newestTAPOf(passes, opTAPRead)
		}
		found[i].TAPUnknown = err != nil
	}
}
