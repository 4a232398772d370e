package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tapportal/portal/internal/graph"
	"github.com/tapportal/portal/internal/graph/graphemu"
	"github.com/tapportal/portal/internal/portal"
)

// seeded returns a copy of the seeded user id.
func (e *env) seeded(t *testing.T, id string) graphemu.User {
	t.Helper()
	return e.find(t, id, func(u *graphemu.User, _ *graphemu.Tenant) bool { return u.ID == id })
}

func TestManager(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	managerOf := func(id string) string {
		var m string
		e.emu.View(func(tn *graphemu.Tenant) { m = tn.LookupUser(id).Manager })
		return m
	}
	for _, tt := range []struct {
		name string
		user string
		want string // the manager's id, "" for none
	}{
		{"a manager in the department", graphemu.NoRoleUserID, managerOf(graphemu.NoRoleUserID)},
		{"a manager who left", graphemu.ManagerLeftUserID, graphemu.DisabledUserID},
		{"a manager without a mailbox", graphemu.ReportsToUnlicensedUserID, graphemu.UnlicensedManagerUserID},
		{"no manager", graphemu.NoManagerUserID, ""},
		{"a guest", graphemu.GuestUserID, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.client.Manager(ctx, tt.user)
			if err != nil {
				t.Fatalf("Manager(%s) error: %v", tt.user, err)
			}
			if tt.want == "" {
				if got != nil {
					t.Fatalf("Manager(%s) = %+v, want nil", tt.user, got)
				}
				return
			}
			m := e.seeded(t, tt.want)
			want := portal.User{ID: m.ID, DisplayName: m.DisplayName, UserPrincipalName: m.UserPrincipalName, Mail: m.Mail,
				JobTitle: m.JobTitle, Department: m.Department, OfficeLocation: m.OfficeLocation, EmployeeID: m.EmployeeID,
				AccountEnabled: m.AccountEnabled, Guest: m.UserType == "Guest", Synced: m.OnPremisesSyncEnabled}
			if got == nil || *got != want {
				t.Fatalf("Manager(%s) = %+v, want %+v", tt.user, got, want)
			}
		})
	}

	t.Run("the manager is read with the user's fields", func(t *testing.T) {
		e.emu.ResetRequests()
		if _, err := e.client.Manager(ctx, graphemu.NoRoleUserID); err != nil {
			t.Fatal(err)
		}
		reqs := e.emu.Requests()
		if len(reqs) != 1 || reqs[0].Path != "/v1.0/users/"+graphemu.NoRoleUserID+"/manager" || !strings.Contains(reqs[0].Query, "accountEnabled") {
			t.Fatalf("requests = %+v, want one read of the manager selecting the user's fields", reqs)
		}
	})

	for _, tt := range []struct {
		name, user, code string
	}{
		{"no such user", "a1000000-0000-4000-8000-000000009999", portal.ENotFound},
		{"a user principal name", "dana.whitfield@" + graphemu.DemoDomain, portal.EInvalid},
		{"nothing", "", portal.EInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.client.Manager(ctx, tt.user)
			if got != nil {
				t.Errorf("Manager(%q) = %+v, want nil", tt.user, got)
			}
			wantCode(t, err, tt.code)
		})
	}

	t.Run("without User.Read.All", func(t *testing.T) {
		var perms []string
		for _, p := range graphemu.AllPermissions {
			if p != "User.Read.All" {
				perms = append(perms, p)
			}
		}
		_, err := newEnv(t, perms).client.Manager(ctx, graphemu.NoRoleUserID)
		if pe := wantCode(t, err, portal.EForbidden); !strings.Contains(pe.Message, "User.Read.All") || pe.RequestID == "" {
			t.Fatalf("error = %q (request id %q), want it to name User.Read.All and keep the request id", pe.Message, pe.RequestID)
		}
	})
}

// passMail is the mail that delivers a pass to a manager.
func passMail(to ...portal.Address) portal.Mail {
	return portal.Mail{
		To:      to,
		Subject: "Temporary Access Pass for Dana Whitfield",
		Text:    portal.NewSecret("Dana's pass: Ab3$<x>&y!\nRead it to her in person."),
	}
}

func TestSendMail(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	jose := portal.Address{Address: "jose.martinez@" + graphemu.DemoDomain, Name: "José Martínez"}
	m := passMail(jose)
	m.Cc = []portal.Address{{Address: "marcus.oyelaran@" + graphemu.DemoDomain}}

	e.emu.ResetRequests()
	rid, err := e.client.SendMail(ctx, graphemu.PortalMailboxAddress, m)
	if err != nil || rid == "" {
		t.Fatalf("SendMail = %q, %v; want Graph's request id", rid, err)
	}
	out := e.emu.Outbox()
	if len(out) != 1 {
		t.Fatalf("the outbox holds %d mails, want 1", len(out))
	}
	got := out[0]
	if got.RequestID != rid || got.SenderID != graphemu.PortalMailboxUserID || got.SenderAddress != graphemu.PortalMailboxAddress ||
		!slices.Equal(got.To, []graphemu.Recipient{{Address: jose.Address, Name: jose.Name}}) ||
		!slices.Equal(got.Cc, []graphemu.Recipient{{Address: "marcus.oyelaran@" + graphemu.DemoDomain}}) || len(got.Bcc) != 0 ||
		got.Subject != m.Subject || got.ContentType != "text" || got.Content != m.Text.Reveal() || got.SaveToSentItems {
		t.Fatalf("outbox = %+v, want the mail as sent, text, not saved to Sent Items, with request id %s", got, rid)
	}

	// On the wire: the SDK's parameter names, one request.
	var sends []graphemu.RequestRecord
	for _, r := range e.emu.Requests() {
		if strings.HasSuffix(r.Path, "/sendMail") {
			sends = append(sends, r)
		}
	}
	if len(sends) != 1 || sends[0].Path != "/v1.0/users/"+graphemu.PortalMailboxAddress+"/sendMail" {
		t.Fatalf("sendMail requests = %+v, want one, to the portal's mailbox", sends)
	}
	var wire map[string]json.RawMessage
	if err := json.Unmarshal(sends[0].Body, &wire); err != nil || wire["Message"] == nil || string(wire["SaveToSentItems"]) != "false" {
		t.Fatalf("sendMail body = %s (%v), want Message and SaveToSentItems false", sends[0].Body, err)
	}

	// The passcode never shows when the mail is printed or logged.
	if s := fmt.Sprintf("%v %+v %#v", m, m, m); strings.Contains(s, "Ab3$") {
		t.Fatalf("formatting the mail printed its text: %s", s)
	}
}

func TestSendMailRefused(t *testing.T) {
	ctx := context.Background()
	jose := portal.Address{Address: "jose.martinez@" + graphemu.DemoDomain}
	withoutSend := func() []string {
		var perms []string
		for _, p := range graphemu.AllPermissions {
			if p != "Mail.Send" {
				perms = append(perms, p)
			}
		}
		return perms
	}()
	for _, tt := range []struct {
		name  string
		perms []string
		from  string
		mail  portal.Mail
		code  string
		say   []string // parts of the message
		sent  bool     // whether the request reached Graph
	}{
		{"a guest sends", nil, graphemu.GuestUserUPN, passMail(jose), portal.EConfig,
			[]string{graphemu.GuestUserUPN, "no Exchange Online mailbox"}, true},
		{"an unlicensed sender", nil, graphemu.UnlicensedManagerUserID, passMail(jose), portal.EConfig,
			[]string{graphemu.UnlicensedManagerUserID, "no Exchange Online mailbox"}, true},
		{"no such mailbox", nil, "nobody@" + graphemu.DemoDomain, passMail(jose), portal.EConfig,
			[]string{"nobody@" + graphemu.DemoDomain, "does not exist"}, true},
		{"without Mail.Send", withoutSend, graphemu.PortalMailboxAddress, passMail(jose), portal.EForbidden,
			[]string{"Mail.Send", graphemu.PortalMailboxAddress}, true},
		{"an address Exchange cannot resolve", nil, graphemu.PortalMailboxAddress,
			passMail(portal.Address{Address: "guest..user@fabrikam.example"}), portal.EInvalid, []string{"recipients", "guest..user"}, true},
		{"a sender that is no mailbox", nil, "tap portal", passMail(jose), portal.EConfig, []string{"tap portal"}, false},
		{"no recipient", nil, graphemu.PortalMailboxAddress, passMail(), portal.EInvalid, []string{"no recipient"}, false},
		{"not an address", nil, graphemu.PortalMailboxAddress, passMail(portal.Address{Address: "José <jose@x.example>"}), portal.EInvalid,
			[]string{"not a mail address"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.perms)
			e.emu.ResetRequests()
			rid, err := e.client.SendMail(ctx, tt.from, tt.mail)
			if rid != "" {
				t.Errorf("SendMail request id = %q, want none", rid)
			}
			pe := wantCode(t, err, tt.code)
			for _, s := range tt.say {
				if !strings.Contains(pe.Message, s) {
					t.Errorf("message = %q, want it to say %q", pe.Message, s)
				}
			}
			if pe.Unsure {
				t.Errorf("a refusal is marked unsure: %v", err)
			}
			if tt.sent != (pe.RequestID != "") {
				t.Errorf("request id = %q, want one only from Graph", pe.RequestID)
			}
			if sent := len(e.emu.Requests()) > 0; sent != tt.sent {
				t.Errorf("a request reached Graph: %v, want %v", sent, tt.sent)
			}
			if n := len(e.emu.Outbox()); n != 0 {
				t.Errorf("the outbox holds %d mails, want none", n)
			}
		})
	}
}

// TestSendMailOutcome: a mail whose reply is lost may have gone, and the
// caller must be able to tell that from a refusal; only a throttled send
// is sent again.
func TestSendMailOutcome(t *testing.T) {
	ctx := context.Background()
	path := "/v1.0/users/*/sendMail"
	jose := portal.Address{Address: "jose.martinez@" + graphemu.DemoDomain}
	for _, tt := range []struct {
		name    string
		fault   graphemu.Fault
		timeout time.Duration
		code    string // "" for success
		unsure  bool
		sent    int // mails in the outbox
		tries   int // sendMail requests
	}{
		{"503 after sending", graphemu.Fault{Method: "POST", Path: path, Status: 503, After: true, Times: 1}, 0, portal.EUnavailable, true, 1, 1},
		{"dropped after sending", graphemu.Fault{Method: "POST", Path: path, Drop: true, After: true, Times: 1}, 0, portal.EUnavailable, true, 1, 1},
		{"too late after sending", graphemu.Fault{Method: "POST", Path: path, Latency: 2 * time.Second, After: true, Times: 1},
			500 * time.Millisecond, portal.EUnavailable, true, 1, 1},
		{"503 before sending", graphemu.Fault{Method: "POST", Path: path, Status: 503, RetryAfter: time.Second, Times: 1}, 0, portal.EUnavailable, true, 0, 1},
		// The retry must carry the whole body, readable: the SDK resends
		// a gzipped body uncompressed under its gzip header.
		{"throttled, then sent", graphemu.Fault{Method: "POST", Path: path, Status: 429, RetryAfter: time.Second, Times: 1}, 0, "", false, 1, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil, func(c *graph.Config) {
				if tt.timeout > 0 {
					c.Timeout = tt.timeout
				}
			})
			e.emu.Inject(tt.fault)
			rid, err := e.client.SendMail(ctx, graphemu.PortalMailboxAddress, passMail(jose))
			if tt.code == "" {
				if err != nil || rid == "" {
					t.Fatalf("SendMail = %q, %v; want it sent", rid, err)
				}
			} else {
				pe := wantCode(t, err, tt.code)
				if portal.Unsure(err) != tt.unsure || !strings.Contains(pe.Message, "did not confirm") {
					t.Fatalf("SendMail error = %v (unsure %v), want unsure %v and a message saying Graph did not confirm", err, pe.Unsure, tt.unsure)
				}
			}
			if n := len(e.emu.Outbox()); n != tt.sent {
				t.Errorf("the outbox holds %d mails, want %d", n, tt.sent)
			}
			tries := 0
			for _, r := range e.emu.Requests() {
				if strings.HasSuffix(r.Path, "/sendMail") {
					tries++
				}
			}
			if tries != tt.tries {
				t.Errorf("%d sendMail requests, want %d", tries, tt.tries)
			}
		})
	}
}

// TestManagerNotAUser: a manager who is an organisational contact is no
// user the portal can show or mail; a reply without the manager's id is
// one the portal cannot read.
func TestManagerNotAUser(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	got, err := e.client.Manager(ctx, graphemu.SpoofedNameUserID)
	if pe := wantCode(t, err, portal.ENotFound); got != nil || !strings.Contains(pe.Message, "orgContact") {
		t.Fatalf("Manager of a user managed by a contact = %+v, %q; want no user and a message naming the contact", got, pe.Message)
	}
	e.emu.Inject(graphemu.Fault{Path: "/v1.0/users/*/manager", Body: `null`})
	got, err = e.client.Manager(ctx, graphemu.NoRoleUserID)
	if wantCode(t, err, portal.EInternal); got != nil {
		t.Fatalf("Manager from a null reply = %+v, want none", got)
	}
}

// TestSendMailOutOfScope: with an application access policy that leaves
// the sending mailbox out, Exchange refuses although the app holds
// Mail.Send; the portal's error says where to look.
func TestSendMailOutOfScope(t *testing.T) {
	e := newEnv(t, nil)
	e.emu.RegisterApp(graphemu.App{ClientID: testClientID, DisplayName: "TAP Portal", Certificate: e.cert, Permissions: graphemu.AllPermissions,
		MailboxScope: []string{graphemu.OperatorUserID}})
	_, err := e.client.SendMail(context.Background(), graphemu.PortalMailboxAddress, passMail(portal.Address{Address: "jose.martinez@" + graphemu.DemoDomain}))
	if pe := wantCode(t, err, portal.EForbidden); !strings.Contains(pe.Message, "application access policy") {
		t.Fatalf("error = %q, want it to name the application access policy", pe.Message)
	}
	if n := len(e.emu.Outbox()); n != 0 {
		t.Errorf("the outbox holds %d mails, want none", n)
	}
}
