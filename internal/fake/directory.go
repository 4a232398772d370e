// Package fake holds in-memory implementations of the portal's interfaces
// for table tests of domain rules: a Directory whose tenant is a few maps,
// and a History that keeps its records in a slice. They run in
// microseconds and say nothing about the wire: the tests through the
// Graph SDK, the emulator and the real stores do that.
package fake

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tapportal/portal/internal/portal"
)

// Operation names a Directory method, for Fail and Calls.
type Operation string

// The Directory's operations.
const (
	OpSearch     Operation = "SearchUsers"
	OpUser       Operation = "User"
	OpMethods    Operation = "Methods"
	OpCurrentTAP Operation = "CurrentTAP"
	OpCreateTAP  Operation = "CreateTAP"
	OpDeleteTAP  Operation = "DeleteTAP"
	OpPolicy     Operation = "Policy"
	OpMemberOf   Operation = "MemberOf"
	OpGroups     Operation = "Groups"
	OpRoleGrants Operation = "RoleGrants"
	OpGroupRoles Operation = "GroupRoleGrants"
	OpPIMGroups  Operation = "GroupEligibilities"
	OpStaff      Operation = "Staff"
	OpPassAudits Operation = "PassAudits"
	OpManager    Operation = "Manager"
	OpSendMail   Operation = "SendMail"
)

// Directory is a portal.Directory over an in-memory tenant. Set its
// fields before use; the methods are safe for concurrent use.
type Directory struct {
	Users map[string]portal.User // by object id
	// Grants are the directory roles each principal (user or group)
	// holds, by principal id.
	Grants map[string][]portal.RoleGrant
	// Memberships are the groups each user is a transitive member of.
	Memberships map[string][]portal.Group
	// PIMGroups are the groups each user may join or own through PIM.
	PIMGroups map[string][]portal.GroupGrant
	// PortalStaff are the portal's app-role holders.
	PortalStaff portal.Staff
	// Passes are the users' passes, by user id.
	Passes map[string]*portal.TAP
	// SignInMethods are the users' registered methods, by user id.
	SignInMethods map[string][]portal.Method
	TAPPolicy     portal.Policy
	// Audits is the directory audit log's pass activities, oldest first.
	Audits []portal.AuditEntry
	// Managers are the users' managers' ids, by user id.
	Managers map[string]string
	// Sent are the mails SendMail accepted, in order.
	Sent []portal.Mail
	// Now is the clock that stamps new passes; default time.Now.
	Now func() time.Time

	mu        sync.Mutex
	fail      map[Operation]error
	failAfter map[Operation]error
	calls     map[Operation]int
	serial    int
}

var (
	_ portal.Directory = (*Directory)(nil)
	_ portal.Mailer    = (*Directory)(nil)
)

// Fail makes every later call of op return err; a nil err heals it.
func (d *Directory) Fail(op Operation, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail == nil {
		d.fail = map[Operation]error{}
	}
	d.fail[op] = err
}

// FailAfter makes every later call of op act and then return err, as a
// Graph that carried out a write and then timed out does.
func (d *Directory) FailAfter(op Operation, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failAfter == nil {
		d.failAfter = map[Operation]error{}
	}
	d.failAfter[op] = err
}

// Calls returns how many times op was called.
func (d *Directory) Calls(op Operation) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls[op]
}

// call counts a call of op and, unless op was made to fail, runs f under
// the lock with the user's object id. userID may be an object id or a
// user principal name; an unknown one is ENotFound, as in Graph. An empty
// userID is for the calls that take none.
func call[T any](d *Directory, op Operation, userID string, f func(id string) (T, error)) (T, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.calls == nil {
		d.calls = map[Operation]int{}
	}
	d.calls[op]++
	var zero T
	if err := d.fail[op]; err != nil {
		return zero, err
	}
	id := ""
	if op != OpSearch && op != OpPolicy && op != OpStaff && op != OpGroupRoles && op != OpPassAudits && op != OpSendMail {
		u, ok := d.lookup(userID)
		if !ok {
			return zero, &portal.Error{Code: portal.ENotFound, Message: fmt.Sprintf("The user %s was not found in the directory.", userID)}
		}
		id = u.ID
	}
	out, err := f(id)
	if err == nil && d.failAfter[op] != nil {
		return zero, d.failAfter[op]
	}
	return out, err
}

func (d *Directory) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// lookup finds a user by object id or user principal name.
func (d *Directory) lookup(idOrUPN string) (portal.User, bool) {
	if u, ok := d.Users[idOrUPN]; ok {
		return u, true
	}
	for _, u := range d.Users {
		if strings.EqualFold(u.UserPrincipalName, idOrUPN) {
			return u, true
		}
	}
	return portal.User{}, false
}

// SearchUsers implements portal.Directory: one page, ordered by display
// name, of users whose display name, UPN or mail starts with query, or
// whose object id or employee id is query, each with their pass.
func (d *Directory) SearchUsers(_ context.Context, query, _ string) (portal.UserPage, error) {
	return call(d, OpSearch, "", func(string) (portal.UserPage, error) {
		q := strings.ToLower(strings.TrimSpace(query))
		var page portal.UserPage
		for _, u := range d.Users {
			if q == "" {
				break
			}
			match := strings.EqualFold(u.ID, q) || strings.EqualFold(u.EmployeeID, q)
			for _, name := range []string{u.DisplayName, u.UserPrincipalName, u.Mail} {
				match = match || strings.HasPrefix(strings.ToLower(name), q)
			}
			if match {
				page.Users = append(page.Users, portal.UserMatch{User: u, TAP: clonePass(d.Passes[u.ID])})
			}
		}
		slices.SortFunc(page.Users, func(a, b portal.UserMatch) int { return strings.Compare(a.DisplayName, b.DisplayName) })
		page.Count = len(page.Users)
		return page, nil
	})
}

// User implements portal.Directory.
func (d *Directory) User(_ context.Context, idOrUPN string) (portal.User, error) {
	return call(d, OpUser, idOrUPN, func(id string) (portal.User, error) { return d.Users[id], nil })
}

// Methods implements portal.Directory.
func (d *Directory) Methods(_ context.Context, userID string) ([]portal.Method, error) {
	return call(d, OpMethods, userID, func(id string) ([]portal.Method, error) { return slices.Clone(d.SignInMethods[id]), nil })
}

// CurrentTAP implements portal.Directory.
func (d *Directory) CurrentTAP(_ context.Context, userID string) (*portal.TAP, error) {
	return call(d, OpCurrentTAP, userID, func(id string) (*portal.TAP, error) { return clonePass(d.Passes[id]), nil })
}

// clonePass returns a copy of t, so that callers cannot change the
// tenant's pass; nil stays nil.
func clonePass(t *portal.TAP) *portal.TAP {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

// CreateTAP implements portal.Directory: the new pass replaces any other,
// as Entra's current behaviour is.
func (d *Directory) CreateTAP(_ context.Context, userID string, req portal.NewTAP) (portal.IssuedTAP, error) {
	return call(d, OpCreateTAP, userID, func(id string) (portal.IssuedTAP, error) {
		now := d.now()
		d.serial++
		t := portal.TAP{ID: fmt.Sprintf("tap-%d", d.serial), Created: now, Start: req.Start, LifetimeMinutes: req.LifetimeMinutes,
			OneTime: req.OneTime, Usable: true, Reason: "EnabledByPolicy"}
		if t.Start.IsZero() {
			t.Start = now
		}
		if t.LifetimeMinutes == 0 {
			t.LifetimeMinutes = d.TAPPolicy.DefaultLifetimeMinutes
		}
		if d.Passes == nil {
			d.Passes = map[string]*portal.TAP{}
		}
		stored := t
		d.Passes[id] = &stored
		return portal.IssuedTAP{TAP: t, Passcode: portal.NewSecret(fmt.Sprintf("code-%d", d.serial)), RequestID: fmt.Sprintf("req-create-%d", d.serial)}, nil
	})
}

// DeleteTAP implements portal.Directory.
func (d *Directory) DeleteTAP(_ context.Context, userID, tapID string) (string, error) {
	return call(d, OpDeleteTAP, userID, func(id string) (string, error) {
		if t := d.Passes[id]; t == nil || t.ID != tapID {
			return "", &portal.Error{Code: portal.ENotFound, Message: "The Temporary Access Pass no longer exists."}
		}
		delete(d.Passes, id)
		d.serial++
		return fmt.Sprintf("req-delete-%d", d.serial), nil
	})
}

// Policy implements portal.Directory.
func (d *Directory) Policy(context.Context) (portal.Policy, error) {
	return call(d, OpPolicy, "", func(string) (portal.Policy, error) { return d.TAPPolicy, nil })
}

// MemberOf implements portal.Directory.
func (d *Directory) MemberOf(_ context.Context, userID string, groupIDs []string) ([]string, error) {
	return call(d, OpMemberOf, userID, func(id string) ([]string, error) {
		var in []string
		for _, g := range groupIDs {
			if slices.ContainsFunc(d.Memberships[id], func(x portal.Group) bool { return strings.EqualFold(x.ID, g) }) {
				in = append(in, g)
			}
		}
		return in, nil
	})
}

// Groups implements portal.Directory.
func (d *Directory) Groups(_ context.Context, userID string) ([]portal.Group, error) {
	return call(d, OpGroups, userID, func(id string) ([]portal.Group, error) { return slices.Clone(d.Memberships[id]), nil })
}

// RoleGrants implements portal.Directory.
func (d *Directory) RoleGrants(_ context.Context, userID string) ([]portal.RoleGrant, error) {
	return call(d, OpRoleGrants, userID, func(id string) ([]portal.RoleGrant, error) { return slices.Clone(d.Grants[id]), nil })
}

// GroupRoleGrants implements portal.Directory.
func (d *Directory) GroupRoleGrants(_ context.Context, groupIDs []string) ([]portal.RoleGrant, error) {
	return call(d, OpGroupRoles, "", func(string) ([]portal.RoleGrant, error) {
		var out []portal.RoleGrant
		for _, g := range groupIDs {
			for k, grants := range d.Grants {
				if strings.EqualFold(k, g) {
					out = append(out, grants...)
				}
			}
		}
		return out, nil
	})
}

// GroupEligibilities implements portal.Directory.
func (d *Directory) GroupEligibilities(_ context.Context, userID string) ([]portal.GroupGrant, error) {
	return call(d, OpPIMGroups, userID, func(id string) ([]portal.GroupGrant, error) { return slices.Clone(d.PIMGroups[id]), nil })
}

// Staff implements portal.Directory.
func (d *Directory) Staff(context.Context) (portal.Staff, error) {
	return call(d, OpStaff, "", func(string) (portal.Staff, error) { return d.PortalStaff, nil })
}

// PassAudits implements portal.Directory: every entry at or after since,
// on one page.
func (d *Directory) PassAudits(_ context.Context, since time.Time, _ string) (portal.AuditPage, error) {
	return call(d, OpPassAudits, "", func(string) (portal.AuditPage, error) {
		var p portal.AuditPage
		for _, e := range d.Audits {
			if !e.Time.Before(since) {
				p.Entries = append(p.Entries, e)
			}
		}
		return p, nil
	})
}

// Subject implements portal.Directory with the separate reads, each
// counted (and failed) under its own operation, the user's first.
func (d *Directory) Subject(ctx context.Context, userID string, methods bool) (portal.Subject, error) {
	var s portal.Subject
	var err error
	if s.User, err = d.User(ctx, userID); err != nil {
		return portal.Subject{}, err
	}
	if s.TAP, err = d.CurrentTAP(ctx, userID); err != nil {
		return portal.Subject{}, err
	}
	if s.Groups, err = d.Groups(ctx, userID); err != nil {
		return portal.Subject{}, err
	}
	if s.Grants, err = d.RoleGrants(ctx, userID); err != nil {
		return portal.Subject{}, err
	}
	if s.GroupGrants, err = d.GroupEligibilities(ctx, userID); err != nil {
		return portal.Subject{}, err
	}
	if methods {
		s.Methods, s.MethodsErr = d.Methods(ctx, userID)
	}
	return s, nil
}

// Manager implements portal.Mailer.
func (d *Directory) Manager(_ context.Context, userID string) (*portal.User, error) {
	return call(d, OpManager, userID, func(id string) (*portal.User, error) {
		m, ok := d.Users[d.Managers[id]]
		if !ok {
			return nil, nil
		}
		return &m, nil
	})
}

// SendMail implements portal.Mailer: the mail is kept in Sent. With
// FailAfter, it is kept and the error returned, as a Graph that sent the
// mail and then failed to answer.
func (d *Directory) SendMail(_ context.Context, from string, m portal.Mail) (string, error) {
	if err := m.Check(); err != nil {
		return "", err
	}
	return call(d, OpSendMail, "", func(string) (string, error) {
		d.Sent = append(d.Sent, m)
		d.serial++
		return fmt.Sprintf("req-mail-%d", d.serial), nil
	})
}

// Mails returns the mails sent so far.
func (d *Directory) Mails() []portal.Mail {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]portal.Mail(nil), d.Sent...)
}
