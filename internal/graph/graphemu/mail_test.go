package graphemu

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func managerPath(user string) string { return "/v1.0/users/" + url.PathEscape(user) + "/manager" }

func sendMailPath(user string) string { return "/v1.0/users/" + url.PathEscape(user) + "/sendMail" }

// userAddress returns the seeded user's mail address.
func userAddress(e *dirEnv, id string) string {
	var addr string
	e.View(func(t *Tenant) { addr = t.LookupUser(id).Mail })
	return addr
}

func TestManager(t *testing.T) {
	e := newDirEnv(t)
	// Dana Whitfield reports to José Martínez, the sales manager.
	jose := userID(28)
	for _, tt := range []struct {
		name   string
		target string
		want   string // the manager's id
		props  []string
	}{
		{"by id", managerPath(NoRoleUserID), jose, userDefaultProps},
		{"by user principal name", managerPath("dana.whitfield@" + DemoDomain), jose, userDefaultProps},
		{"select", managerPath(NoRoleUserID) + q("$select", "id,Mail,accountEnabled,userType"), jose,
			[]string{"id", "mail", "accountEnabled", "userType"}},
		{"a manager who left is still the manager", managerPath(ManagerLeftUserID), DisabledUserID, userDefaultProps},
		{"a manager without a mailbox", managerPath(ReportsToUnlicensedUserID) + q("$select", "id,mail"), UnlicensedManagerUserID,
			[]string{"id", "mail"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.get(t, tt.target)
			wantStatus(t, r, 200)
			if r.body["id"] != tt.want || r.body["@odata.type"] != "#microsoft.graph.user" {
				t.Fatalf("GET %s = %s, want the user %s typed #microsoft.graph.user", tt.target, r.raw, tt.want)
			}
			if ctx, _ := r.body["@odata.context"].(string); ctx != e.URL()+"/v1.0/$metadata#directoryObjects/$entity" {
				t.Errorf("@odata.context = %q, want the directoryObjects entity", ctx)
			}
			want := append([]string{"@odata.context", "@odata.type"}, tt.props...)
			slices.Sort(want)
			if got := keys(r.body); !slices.Equal(got, want) {
				t.Errorf("properties = %v, want %v", got, want)
			}
		})
	}

	// The unlicensed shift lead has no address: Graph says null.
	r := e.get(t, managerPath(ReportsToUnlicensedUserID)+q("$select", "id,mail"))
	if v, ok := r.body["mail"]; !ok || v != nil {
		t.Errorf("mail of a manager without a mailbox = %v (present %v), want null", v, ok)
	}

	for _, tt := range []struct {
		name, target string
		status       int
		code, msg    string
	}{
		{"no manager", managerPath(NoManagerUserID), 404, "Request_ResourceNotFound",
			"Resource 'manager' does not exist or one of its queried reference-property objects are not present."},
		{"the chief executive has none", managerPath(ExecutiveUserID), 404, "Request_ResourceNotFound", "Resource 'manager'"},
		{"a guest has none", managerPath(GuestUserUPN), 404, "Request_ResourceNotFound", "Resource 'manager'"},
		{"no such user", managerPath("a1000000-0000-4000-8000-000000009999"), 404, "Request_ResourceNotFound",
			"Resource 'a1000000-0000-4000-8000-000000009999' does not exist"},
		{"unknown property", managerPath(NoRoleUserID) + q("$select", "id,nonsense"), 400, "Request_BadRequest",
			"Could not find a property named 'nonsense' on type 'microsoft.graph.directoryObject'."},
		{"unsupported option", managerPath(NoRoleUserID) + q("$top", "1"), 400, "BadRequest", "Query option '$top' is not supported"},
		{"another method", managerPath(NoRoleUserID), 405, "Request_BadRequest", "not allowed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			method := http.MethodGet
			if tt.status == 405 {
				method = http.MethodPost
			}
			wantError(t, e.do(t, method, tt.target, nil), tt.status, tt.code, tt.msg)
		})
	}

	// A manager whose account was deleted reads as none.
	e.Update(func(tn *Tenant) { tn.LookupUser(NoRoleUserID).Manager = "a1000000-0000-4000-8000-000000009999" })
	wantError(t, e.get(t, managerPath(NoRoleUserID)), 404, "Request_ResourceNotFound", "Resource 'manager'")
}

// mailBody is a sendMail body as Graph documents it.
func mailBody(to ...string) map[string]any {
	var rcpts []map[string]any
	for _, a := range to {
		rcpts = append(rcpts, map[string]any{"emailAddress": map[string]any{"address": a}})
	}
	return map[string]any{
		"message": map[string]any{
			"subject":      "Your Temporary Access Pass",
			"body":         map[string]any{"contentType": "text", "content": "Passcode: Ab3$xyz!"},
			"toRecipients": rcpts,
		},
		"saveToSentItems": false,
	}
}

func TestSendMail(t *testing.T) {
	e := newDirEnv(t)
	body := map[string]any{
		"message": map[string]any{
			"@odata.type": "#microsoft.graph.message",
			"subject":     "Pass for Dana",
			"body":        map[string]any{"contentType": "html", "content": "<p>Passcode: <b>x&amp;y</b></p>"},
			"toRecipients": []any{
				map[string]any{"emailAddress": map[string]any{"address": "jose.martinez@" + DemoDomain, "name": "José Martínez"}},
				map[string]any{"emailAddress": map[string]any{"address": "someone@fabrikam.example"}},
			},
			"ccRecipients":  []any{map[string]any{"emailAddress": map[string]any{"address": "marcus.oyelaran@" + DemoDomain}}},
			"bccRecipients": []any{map[string]any{"emailAddress": map[string]any{"address": "audit@" + DemoDomain}}},
			"replyTo":       []any{map[string]any{"emailAddress": map[string]any{"address": "helpdesk@" + DemoDomain, "name": "Helpdesk"}}},
		},
		"saveToSentItems": false,
	}
	r := e.do(t, http.MethodPost, sendMailPath(PortalMailboxAddress), body)
	wantStatus(t, r, 202)
	if r.raw != "" {
		t.Errorf("sendMail reply body = %q, want none", r.raw)
	}
	out := e.Outbox()
	if len(out) != 1 {
		t.Fatalf("Outbox() holds %d mails, want 1", len(out))
	}
	got := out[0]
	want := Mail{
		RequestID:     r.header.Get("request-id"),
		SenderID:      PortalMailboxUserID,
		SenderAddress: PortalMailboxAddress,
		To:            []Recipient{{"jose.martinez@" + DemoDomain, "José Martínez"}, {"someone@fabrikam.example", ""}},
		Cc:            []Recipient{{"marcus.oyelaran@" + DemoDomain, ""}},
		Bcc:           []Recipient{{"audit@" + DemoDomain, ""}},
		ReplyTo:       []Recipient{{"helpdesk@" + DemoDomain, "Helpdesk"}},
		Subject:       "Pass for Dana",
		ContentType:   "html",
		Content:       "<p>Passcode: <b>x&amp;y</b></p>",
		Sent:          time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC),
		// Nobody in the tenant has the audit address: Exchange accepts
		// the mail and cannot deliver it there.
		Undelivered: []Recipient{{"audit@" + DemoDomain, ""}},
	}
	if got.RequestID == "" || !mailEqual(got, want) {
		t.Fatalf("Outbox()[0] = %+v, want %+v", got, want)
	}

	// Graph keeps a copy in Sent Items unless told not to; mail queues
	// newest last; by id as well as by address.
	wantStatus(t, e.do(t, http.MethodPost, sendMailPath(OperatorUserID), map[string]any{"message": mailBody("a@b.example")["message"]}), 202)
	out = e.Outbox()
	if len(out) != 2 || !out[1].SaveToSentItems || out[1].SenderID != OperatorUserID || out[1].SenderAddress != userAddress(e, OperatorUserID) ||
		out[1].ContentType != "text" {
		t.Fatalf("second mail = %+v, want it last, from the operator, saved to Sent Items, text", out[len(out)-1])
	}

	// Outbox returns copies.
	out[0].To[0].Address = "changed@example.com"
	if e.Outbox()[0].To[0].Address == "changed@example.com" {
		t.Error("Outbox() shares its recipients with the server")
	}
	e.ClearOutbox()
	if n := len(e.Outbox()); n != 0 {
		t.Errorf("after ClearOutbox, Outbox() holds %d mails, want 0", n)
	}
}

func mailEqual(a, b Mail) bool {
	return a.RequestID == b.RequestID && a.SenderID == b.SenderID && a.SenderAddress == b.SenderAddress &&
		slices.Equal(a.To, b.To) && slices.Equal(a.Cc, b.Cc) && slices.Equal(a.Bcc, b.Bcc) && slices.Equal(a.ReplyTo, b.ReplyTo) &&
		a.Subject == b.Subject && a.ContentType == b.ContentType && a.Content == b.Content &&
		a.SaveToSentItems == b.SaveToSentItems && a.Sent.Equal(b.Sent) && slices.Equal(a.Undelivered, b.Undelivered)
}

// TestSendMailCaseInsensitive sends what the SDK sends: "Message" and
// "SaveToSentItems", and other spellings Graph accepts too.
func TestSendMailCaseInsensitive(t *testing.T) {
	e := newDirEnv(t)
	body := `{"Message":{"@odata.type":"#microsoft.graph.message","Subject":"Hi","Body":{"ContentType":"HTML","CONTENT":"<p>x</p>"},` +
		`"ToRecipients":[{"EmailAddress":{"Address":"jose.martinez@northwind.example","NAME":"José"}}]},"SaveToSentItems":false}`
	wantStatus(t, e.do(t, http.MethodPost, sendMailPath(PortalMailboxUserID), body), 202)
	out := e.Outbox()
	if len(out) != 1 || out[0].Subject != "Hi" || out[0].ContentType != "html" || out[0].Content != "<p>x</p>" ||
		len(out[0].To) != 1 || out[0].To[0] != (Recipient{"jose.martinez@northwind.example", "José"}) || out[0].SaveToSentItems {
		t.Fatalf("Outbox() = %+v, want the mail as sent in any case", out)
	}
}

func TestSendMailRefused(t *testing.T) {
	good := func(edit func(msg map[string]any)) map[string]any {
		b := mailBody("jose.martinez@" + DemoDomain)
		edit(b["message"].(map[string]any))
		return b
	}
	rcpt := func(addr any) []any { return []any{map[string]any{"emailAddress": map[string]any{"address": addr}}} }
	const unknownUser = "a1000000-0000-4000-8000-000000009999"
	for _, tt := range []struct {
		name   string
		sender string
		body   any
		status int
		code   string
		msg    string
	}{
		// The sender: Exchange resolves the mailbox before it reads the
		// message.
		{"unknown sender", unknownUser, mailBody("a@b.example"), 404, "ErrorInvalidUser", "The requested user '" + unknownUser + "' is invalid."},
		{"guest sender", GuestUserID, mailBody("a@b.example"), 404, "MailboxNotEnabledForRESTAPI",
			"The mailbox is either inactive, soft-deleted, or is hosted on-premise."},
		{"unlicensed sender", UnlicensedManagerUserID, mailBody("a@b.example"), 404, "MailboxNotEnabledForRESTAPI", "inactive"},
		{"sender who left", DisabledUserID, mailBody("a@b.example"), 404, "MailboxNotEnabledForRESTAPI", "inactive"},
		{"emergency access account", BreakGlassUserID, mailBody("a@b.example"), 404, "MailboxNotEnabledForRESTAPI", "inactive"},
		{"unknown sender, no recipients", unknownUser, mailBody(), 404, "ErrorInvalidUser", "is invalid"},

		// Recipients.
		{"no recipients", PortalMailboxUserID, mailBody(), 400, "ErrorInvalidRecipients",
			"At least one recipient isn't valid., A message can't be sent because it contains no recipients."},
		{"empty message", PortalMailboxUserID, map[string]any{"message": map[string]any{}}, 400, "ErrorInvalidRecipients", "contains no recipients"},
		{"reply-to only", PortalMailboxUserID, good(func(m map[string]any) { delete(m, "toRecipients"); m["replyTo"] = rcpt("a@b.example") }),
			400, "ErrorInvalidRecipients", "contains no recipients"},
		{"not an address", PortalMailboxUserID, mailBody("jose.martinez"), 400, "ErrorInvalidRecipients",
			`At least one recipient isn't valid., Recipient "jose.martinez" isn't resolved. All recipients must be resolved before a message can be submitted.`},
		{"a display name with the address", PortalMailboxUserID, mailBody("José <jose.martinez@northwind.example>"), 400, "ErrorInvalidRecipients", "isn't resolved"},
		{"a domain without a dot", PortalMailboxUserID, mailBody("jose@northwind"), 400, "ErrorInvalidRecipients", "isn't resolved"},
		{"two addresses in one", PortalMailboxUserID, mailBody("a@b.example,c@d.example"), 400, "ErrorInvalidRecipients", "isn't resolved"},
		{"a bad cc among good ones", PortalMailboxUserID, good(func(m map[string]any) { m["ccRecipients"] = rcpt("nobody") }),
			400, "ErrorInvalidRecipients", `Recipient "nobody"`},
		{"no address", PortalMailboxUserID, good(func(m map[string]any) {
			m["toRecipients"] = []any{map[string]any{"emailAddress": map[string]any{"name": "José"}}}
		}), 400, "ErrorInvalidRecipients", `Recipient ""`},
		{"no emailAddress", PortalMailboxUserID, good(func(m map[string]any) { m["toRecipients"] = []any{map[string]any{}} }),
			400, "ErrorInvalidRecipients", "isn't resolved"},

		// The message.
		{"no message", PortalMailboxUserID, map[string]any{"saveToSentItems": false}, 400, "ErrorInvalidRequest", "'Message' is missing"},
		{"null message", PortalMailboxUserID, map[string]any{"message": nil}, 400, "ErrorInvalidRequest", "'Message' is missing"},
		{"unknown content type", PortalMailboxUserID, good(func(m map[string]any) {
			m["body"] = map[string]any{"contentType": "markdown", "content": "*x*"}
		}), 400, "RequestBodyRead", "Requested value 'markdown' was not found."},
		{"content without a type", PortalMailboxUserID, good(func(m map[string]any) { m["body"] = map[string]any{"content": "x"} }),
			400, "ErrorInvalidRequest", "no contentType"},

		// Graph's schema, checked before anything else.
		{"unknown sender, unknown parameter", unknownUser, map[string]any{"message": mailBody("a@b.example")["message"], "urgent": true},
			400, "RequestBodyRead", "The parameter 'urgent' in the request payload is not a valid parameter for the operation 'sendMail'."},
		{"unknown message property", PortalMailboxUserID, good(func(m map[string]any) { m["colour"] = "red" }), 400, "RequestBodyRead",
			"The property 'colour' does not exist on type 'microsoft.graph.message'."},
		{"unknown body property", PortalMailboxUserID, good(func(m map[string]any) {
			m["body"] = map[string]any{"contentType": "text", "content": "x", "charset": "utf-8"}
		}), 400, "RequestBodyRead", "'charset' does not exist on type 'microsoft.graph.itemBody'"},
		{"unknown recipient property", PortalMailboxUserID, good(func(m map[string]any) {
			m["toRecipients"] = []any{map[string]any{"emailAddress": map[string]any{"address": "a@b.example"}, "type": "to"}}
		}), 400, "RequestBodyRead", "'type' does not exist on type 'microsoft.graph.recipient'"},
		{"unknown address property", PortalMailboxUserID, good(func(m map[string]any) {
			m["toRecipients"] = []any{map[string]any{"emailAddress": map[string]any{"address": "a@b.example", "email": "a@b.example"}}}
		}), 400, "RequestBodyRead", "'email' does not exist on type 'microsoft.graph.emailAddress'"},
		{"a property the emulator does not model", PortalMailboxUserID, good(func(m map[string]any) { m["attachments"] = []any{} }),
			400, "RequestBodyRead", "does not model the message property 'attachments'"},
		{"another sender", PortalMailboxUserID, good(func(m map[string]any) { m["from"] = rcpt("ceo@northwind.example")[0] }),
			400, "RequestBodyRead", "does not model the message property 'from'"},
		{"not a message", PortalMailboxUserID, good(func(m map[string]any) { m["@odata.type"] = "#microsoft.graph.eventMessage" }),
			400, "RequestBodyRead", "is not microsoft.graph.message"},
		{"the parameter twice", PortalMailboxUserID, `{"message":{},"Message":{}}`, 400, "RequestBodyRead", "Duplicate property"},
		{"saveToSentItems not a boolean", PortalMailboxUserID, map[string]any{"message": mailBody("a@b.example")["message"], "saveToSentItems": "no"},
			400, "RequestBodyRead", "'Edm.Boolean'"},
		{"subject not a string", PortalMailboxUserID, good(func(m map[string]any) { m["subject"] = 42 }), 400, "RequestBodyRead", "'Edm.String'"},
		{"recipients not a list", PortalMailboxUserID, good(func(m map[string]any) { m["toRecipients"] = "a@b.example" }),
			400, "RequestBodyRead", "must be a collection"},
		{"message not an object", PortalMailboxUserID, map[string]any{"message": "hello"}, 400, "RequestBodyRead", "must be a JSON object"},
		{"not JSON", PortalMailboxUserID, "message=hello", 400, "RequestBodyRead", "must be a JSON object"},
		{"two JSON values", PortalMailboxUserID, `{"message":{}} {}`, 400, "RequestBodyRead", "must be a JSON object"},
		{"empty body", PortalMailboxUserID, "", 400, "BadRequest", "Empty Payload. JSON content expected."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newDirEnv(t)
			wantError(t, e.do(t, http.MethodPost, sendMailPath(tt.sender), tt.body), tt.status, tt.code, tt.msg)
			if n := len(e.Outbox()); n != 0 {
				t.Errorf("a refused mail is in the outbox (%d mails)", n)
			}
		})
	}

	t.Run("query options", func(t *testing.T) {
		e := newDirEnv(t)
		wantError(t, e.do(t, http.MethodPost, sendMailPath(PortalMailboxUserID)+q("$select", "id"), mailBody("a@b.example")),
			400, "BadRequest", "Query option '$select' is not supported")
	})
	t.Run("another method", func(t *testing.T) {
		e := newDirEnv(t)
		wantError(t, e.get(t, sendMailPath(PortalMailboxUserID)), 405, "Request_BadRequest", "not allowed")
	})
}

// TestSendMailGzip sends the body gzipped, as the SDK does.
func TestSendMailGzip(t *testing.T) {
	e := newDirEnv(t)
	plain := `{"Message":{"subject":"Zipped","body":{"contentType":"text","content":"inside"},` +
		`"toRecipients":[{"emailAddress":{"address":"a@b.example"}}]},"SaveToSentItems":false}`
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write([]byte(plain))
	zw.Close()
	r := e.do(t, http.MethodPost, sendMailPath(PortalMailboxUserID), zipped.String(), "Content-Encoding", "gzip")
	wantStatus(t, r, 202)
	if out := e.Outbox(); len(out) != 1 || out[0].Subject != "Zipped" || out[0].Content != "inside" {
		t.Fatalf("Outbox() = %+v, want the unzipped mail", out)
	}
	reqs := e.Requests()
	if last := reqs[len(reqs)-1]; !strings.HasSuffix(last.Path, "/sendMail") || string(last.Body) != plain || last.Status != 202 {
		t.Errorf("request log = %s %q %d, want the sendMail with its unzipped body, 202", last.Path, last.Body, last.Status)
	}
}

// TestSendMailFaults: a fault that answers before Graph acts sends
// nothing; one that acts first (After) leaves the mail sent whatever the
// client saw.
func TestSendMailFaults(t *testing.T) {
	path := "/v1.0/users/*/sendMail"
	for _, tt := range []struct {
		name  string
		fault Fault
		sent  bool
	}{
		{"503 before acting", Fault{Method: "POST", Path: path, Status: 503, Times: 1}, false},
		{"503 after acting", Fault{Method: "POST", Path: path, Status: 503, After: true, Times: 1}, true},
		{"dropped after acting", Fault{Method: "POST", Path: path, Drop: true, After: true, Times: 1}, true},
		{"late after acting", Fault{Method: "POST", Path: path, Latency: 3 * time.Second, After: true, Times: 1}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newDirEnv(t)
			e.Inject(tt.fault)
			if tt.fault.Latency > 0 {
				e.client.Timeout = 500 * time.Millisecond
			}
			r, err := e.try(http.MethodPost, sendMailPath(PortalMailboxUserID), mailBody("jose.martinez@"+DemoDomain))
			switch {
			case tt.fault.Status != 0:
				if err != nil || r.status != 503 {
					t.Fatalf("reply = %d %v, want 503", r.status, err)
				}
			case err == nil:
				t.Fatalf("reply = %d, want none", r.status)
			}
			if n := len(e.Outbox()); (n == 1) != tt.sent || n > 1 {
				t.Fatalf("Outbox() holds %d mails, want sent = %v", n, tt.sent)
			}
			if tt.sent {
				var logged int
				for _, rec := range e.Requests() {
					if rec.Method == "POST" && strings.HasSuffix(rec.Path, "/sendMail") && rec.Status == 202 {
						logged++
					}
				}
				if logged != 1 {
					t.Errorf("request log holds %d accepted sendMails, want 1 (the status the handler produced)", logged)
				}
			}
		})
	}
}

// TestMailInBatch: $batch items reach the mail routes as requests do.
func TestMailInBatch(t *testing.T) {
	e := newDirEnv(t)
	headers := map[string]string{"Content-Type": "application/json"}
	r := e.do(t, http.MethodPost, "/v1.0/$batch", map[string]any{"requests": []map[string]any{
		{"id": "1", "method": "GET", "url": "/users/" + NoRoleUserID + "/manager?$select=id,mail"},
		{"id": "2", "method": "POST", "url": "/users/" + url.PathEscape(PortalMailboxAddress) + "/sendMail", "headers": headers,
			"body": mailBody("jose.martinez@" + DemoDomain)},
		{"id": "3", "method": "POST", "url": "/users/" + GuestUserID + "/sendMail", "headers": headers, "body": mailBody("a@b.example")},
		{"id": "4", "method": "GET", "url": "/users/" + NoManagerUserID + "/manager"},
	}})
	wantStatus(t, r, 200)
	replies := map[string]map[string]any{}
	for _, v := range r.body["responses"].([]any) {
		m := v.(map[string]any)
		replies[m["id"].(string)] = m
	}
	if b, _ := replies["1"]["body"].(map[string]any); replies["1"]["status"] != float64(200) || b["id"] != userID(28) || b["@odata.type"] != "#microsoft.graph.user" {
		t.Errorf("manager item = %v, want José", replies["1"])
	}
	if replies["2"]["status"] != float64(202) || replies["2"]["body"] != nil {
		t.Errorf("sendMail item = %v, want 202 and no body", replies["2"])
	}
	if b, _ := replies["3"]["body"].(map[string]any); replies["3"]["status"] != float64(404) || b["error"].(map[string]any)["code"] != "MailboxNotEnabledForRESTAPI" {
		t.Errorf("guest sendMail item = %v, want 404 MailboxNotEnabledForRESTAPI", replies["3"])
	}
	if replies["4"]["status"] != float64(404) {
		t.Errorf("no-manager item = %v, want 404", replies["4"])
	}
	if out := e.Outbox(); len(out) != 1 || out[0].SenderID != PortalMailboxUserID {
		t.Fatalf("Outbox() = %+v, want the one mail the batch sent", out)
	}
}

// TestManagerContact: a manager can be an organisational contact. Graph
// types it as one, and leaves out the user properties $select names that
// a contact lacks.
func TestManagerContact(t *testing.T) {
	e := newDirEnv(t)
	r := e.get(t, managerPath(SpoofedNameUserID)+q("$select", "id,mail,accountEnabled,userType,displayName"))
	wantStatus(t, r, 200)
	if r.body["@odata.type"] != "#microsoft.graph.orgContact" || r.body["id"] != AgencyContactID || r.body["mail"] == nil {
		t.Fatalf("manager = %s, want the agency's contact typed #microsoft.graph.orgContact, with its address", r.raw)
	}
	want := []string{"@odata.context", "@odata.type", "displayName", "id", "mail"}
	if got := keys(r.body); !slices.Equal(got, want) {
		t.Errorf("properties = %v, want %v: a contact has no accountEnabled or userType", got, want)
	}
}

// TestSendMailScope: an Exchange application access policy keeps an app
// that holds Mail.Send from every mailbox outside its scope.
func TestSendMailScope(t *testing.T) {
	e := newDirEnv(t)
	e.RegisterApp(App{ClientID: "test", DisplayName: "Test App", Permissions: everyPermission, MailboxScope: []string{PortalMailboxAddress}})
	tok, err := e.IssueToken("test")
	if err != nil {
		t.Fatal(err)
	}
	e.token = tok
	wantStatus(t, e.do(t, http.MethodPost, sendMailPath(PortalMailboxUserID), mailBody("jose.martinez@"+DemoDomain)), 202)
	wantError(t, e.do(t, http.MethodPost, sendMailPath(OperatorUserID), mailBody("jose.martinez@"+DemoDomain)),
		403, "ErrorAccessDenied", "Access to OData is disabled.")
	if n := len(e.Outbox()); n != 1 {
		t.Errorf("Outbox() holds %d mails, want only the one from the mailbox in scope", n)
	}
}

// TestSendMailMediaType: the message is JSON; text/plain is a MIME
// message, which the emulator does not model; other types are refused.
func TestSendMailMediaType(t *testing.T) {
	e := newDirEnv(t)
	body := `{"message":{"subject":"x","toRecipients":[{"emailAddress":{"address":"a@b.example"}}]}}`
	wantStatus(t, e.do(t, http.MethodPost, sendMailPath(PortalMailboxUserID), body, "Content-Type", "application/json; charset=utf-8"), 202)
	wantError(t, e.do(t, http.MethodPost, sendMailPath(PortalMailboxUserID), body, "Content-Type", "text/plain"), 400, "BadRequest", "MIME")
	wantError(t, e.do(t, http.MethodPost, sendMailPath(PortalMailboxUserID), body, "Content-Type", "application/xml"), 415, "UnsupportedMediaType", "application/xml")
	if n := len(e.Outbox()); n != 1 {
		t.Errorf("Outbox() holds %d mails, want 1", n)
	}
}

// TestSendMailTooLarge: Graph refuses a request over 4 MB with 413.
func TestSendMailTooLarge(t *testing.T) {
	e := newDirEnv(t)
	b := mailBody("jose.martinez@" + DemoDomain)
	b["message"].(map[string]any)["body"] = map[string]any{"contentType": "text", "content": strings.Repeat("x", maxBody)}
	wantError(t, e.do(t, http.MethodPost, sendMailPath(PortalMailboxUserID), b), 413, "RequestEntityTooLarge", "4 MB")
	if n := len(e.Outbox()); n != 0 {
		t.Errorf("Outbox() holds %d mails, want none", n)
	}
}

// TestSendMailUndelivered: Graph's 202 says Exchange took the mail, not
// that it reached anyone. An address of the tenant's domain that no
// mailbox holds is not delivered; a mail-enabled group's is.
func TestSendMailUndelivered(t *testing.T) {
	e := newDirEnv(t)
	victor := userAddress(e, DisabledUserID)
	if victor == "" {
		t.Fatal("the manager who left kept no address: the seed no longer has what this test needs")
	}
	to := []string{victor, SecurityTeamAddress, "jose.martinez@" + DemoDomain, "someone@fabrikam.example", "nobody@" + DemoDomain}
	wantStatus(t, e.do(t, http.MethodPost, sendMailPath(PortalMailboxUserID), mailBody(to...)), 202)
	got := e.Outbox()[0].Undelivered
	want := []Recipient{{victor, ""}, {"nobody@" + DemoDomain, ""}}
	if !slices.Equal(got, want) {
		t.Errorf("undelivered = %v, want %v", got, want)
	}
}

// TestSendMailSentTwice: a mail Exchange took whose reply was lost is
// sent; a client that sends it again sends a second one. Nothing in Graph
// makes sendMail idempotent.
func TestSendMailSentTwice(t *testing.T) {
	e := newDirEnv(t)
	e.Inject(Fault{Method: "POST", Path: "/v1.0/users/*/sendMail", Status: 503, After: true, Times: 1})
	for range 2 {
		e.do(t, http.MethodPost, sendMailPath(PortalMailboxUserID), mailBody("jose.martinez@"+DemoDomain))
	}
	if n := len(e.Outbox()); n != 2 {
		t.Errorf("Outbox() holds %d mails after a 503 that came after acting and a second send, want 2", n)
	}
}
