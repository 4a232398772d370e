package graphemu

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"time"
)

// A user's manager is a directory read; sendMail is served by Exchange
// Online behind Graph, so its errors carry Exchange's codes and wording.
// Graph checks the body against its schema before Exchange sees it, and
// Exchange finds the sending mailbox before it looks at the recipients:
// the handler checks in that order, so that a client meets the error
// Graph would give it first.

// The application permissions of the mail routes. Mail.Send with an
// application token reaches every mailbox in the tenant, unless an
// Exchange application access policy narrows it.
var permsMailSend = []string{"Mail.Send"}

// Codes and messages of the mail routes.
const (
	codeInvalidRecipients  = "ErrorInvalidRecipients"
	codeMailboxNotEnabled  = "MailboxNotEnabledForRESTAPI"
	codeInvalidUser        = "ErrorInvalidUser"
	codeInvalidRequest     = "ErrorInvalidRequest"
	codeRequestBodyRead    = "RequestBodyRead"
	msgNoRecipients        = "At least one recipient isn't valid., A message can't be sent because it contains no recipients."
	msgMailboxNotEnabled   = "The mailbox is either inactive, soft-deleted, or is hosted on-premise."
	msgUnresolvedRecipient = "At least one recipient isn't valid., Recipient \"%s\" isn't resolved. All recipients must be resolved before a message can be submitted."
	// msgOutOfScope is Exchange's refusal of a mailbox an application
	// access policy keeps from the app.
	msgOutOfScope = "Access to OData is disabled."
)

// maxOutbox bounds the outbox so a long demo session does not grow it
// without limit; the oldest mail goes first.
const maxOutbox = 1000

func (s *Server) registerMailRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1.0/users/{id}/manager", s.getManager)
	mux.HandleFunc("POST /v1.0/users/{id}/sendMail", s.sendMail)
}

// Recipient is an addressee of a mail the emulator accepted: the address
// and the display name the client gave, which may be empty.
type Recipient struct {
	Address string
	Name    string
}

// Mail is a message the emulator accepted through sendMail, as Exchange
// would have sent it.
type Mail struct {
	// RequestID is Graph's request-id of the sendMail that sent it.
	RequestID string
	// SenderID and SenderAddress are the sending user's object id and
	// primary SMTP address.
	SenderID      string
	SenderAddress string
	To, Cc, Bcc   []Recipient
	ReplyTo       []Recipient
	Subject       string
	// ContentType is "text" or "html", as Graph names the body's type.
	ContentType string
	Content     string
	// SaveToSentItems says whether the sender asked to keep a copy in the
	// mailbox's Sent Items (Graph's default is to keep one).
	SaveToSentItems bool
	// Sent is when the emulator accepted it, by its clock.
	Sent time.Time
	// Undelivered are the recipients Exchange could not deliver to after
	// it accepted the mail: addresses of the tenant's domain that no
	// mailbox holds (a user whose licence, and mailbox, went). Graph's 202
	// does not say so; Exchange sends the sender a non-delivery report.
	// Addresses of other domains are taken as delivered: what becomes of
	// them is not the tenant's to know.
	Undelivered []Recipient
}

// clone returns a copy of m that shares no slice with it.
func (m Mail) clone() Mail {
	m.To, m.Cc, m.Bcc, m.ReplyTo = slices.Clone(m.To), slices.Clone(m.Cc), slices.Clone(m.Bcc), slices.Clone(m.ReplyTo)
	m.Undelivered = slices.Clone(m.Undelivered)
	return m
}

// Outbox returns copies of the mail accepted so far, oldest first (the
// last one is the newest). The items of a $batch and writes whose reply
// a fault replaced are in it: Exchange sent them.
func (s *Server) Outbox() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Mail, len(s.outbox))
	for i, m := range s.outbox {
		out[i] = m.clone()
	}
	return out
}

// ClearOutbox forgets the accepted mail.
func (s *Server) ClearOutbox() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outbox = nil
}

// getManager serves a user's manager as Graph does: the manager is a
// directoryObject, rendered as what it is (a user, or an organisational
// contact) with its "@odata.type". A property $select names that the
// manager's type lacks is left out.
func (s *Server) getManager(w http.ResponseWriter, r *http.Request) {
	id, sel, ok := s.readUserSelection(w, r, "microsoft.graph.directoryObject")
	if !ok {
		return
	}
	var props map[string]any
	var aerr *apiError
	s.View(func(t *Tenant) {
		u := t.LookupUser(id)
		if u == nil {
			aerr = notFound(id)
			return
		}
		if m := t.ManagerOf(u); m != nil {
			props = userProps(m)
			props["@odata.type"] = "#microsoft.graph.user"
		} else if c := t.contactManagerOf(u); c != nil {
			props = contactProps(c)
		} else {
			// Graph names the navigation property, not the user, when the
			// user exists and has no manager.
			aerr = notFound("manager")
		}
	})
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	if sel == nil {
		sel = userDefaultProps
	}
	out := project(props, sel)
	for _, p := range sel {
		if _, ok := props[p]; !ok {
			delete(out, p)
		}
	}
	out["@odata.context"] = s.contextURL(r, "directoryObjects/$entity")
	writeJSON(w, http.StatusOK, out)
}

// contactProps renders an organisational contact.
func contactProps(c *Contact) map[string]any {
	return map[string]any{
		"@odata.type": "#microsoft.graph.orgContact",
		"id":          c.ID,
		"displayName": c.DisplayName,
		"mail":        nullable(c.Mail),
		"companyName": nullable(c.CompanyName),
		"jobTitle":    nil,
		"department":  nil,
	}
}

// sendMail accepts a message into the outbox: 202 and no body, as Graph
// answers once Exchange has taken the message, before delivery.
func (s *Server) sendMail(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, permMail, permsMailSend...) {
		return
	}
	// sendMail is an action: Graph takes no query options on it, and the
	// emulator refuses any rather than ignore one a client relies on.
	if _, aerr := readOptions(r); aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	if aerr := sendMailMediaType(r.Header.Get("Content-Type")); aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeAPIError(w, r, badRequest(codeBadRequest, "The request body could not be read."))
		return
	}
	req, aerr := parseSendMail(body)
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	id := r.PathValue("id")
	now := ticks(s.clock.Now())
	app := s.callerApp(r)
	s.Update(func(t *Tenant) {
		u := t.LookupUser(id)
		switch {
		case u == nil:
			aerr = &apiError{status: http.StatusNotFound, code: codeInvalidUser, msg: "The requested user '" + id + "' is invalid."}
			return
		case !u.Mailbox:
			aerr = &apiError{status: http.StatusNotFound, code: codeMailboxNotEnabled, msg: msgMailboxNotEnabled}
			return
		case app != nil && app.MailboxScope != nil && !inScope(app.MailboxScope, u):
			aerr = &apiError{status: http.StatusForbidden, code: "ErrorAccessDenied", msg: msgOutOfScope}
			return
		}
		if aerr = req.check(); aerr != nil {
			return
		}
		from := u.Mail
		if from == "" {
			from = u.UserPrincipalName
		}
		if req.contentType == "" {
			// No body, or an empty one: empty in either type, text here.
			req.contentType = "text"
		}
		m := Mail{
			RequestID: requestID(r), SenderID: u.ID, SenderAddress: from,
			To: req.to, Cc: req.cc, Bcc: req.bcc, ReplyTo: req.replyTo,
			Subject: req.subject, ContentType: req.contentType, Content: req.content,
			SaveToSentItems: req.save, Sent: now,
		}
		for _, rcpt := range slices.Concat(req.to, req.cc, req.bcc) {
			if !t.delivers(rcpt.Address) {
				m.Undelivered = append(m.Undelivered, rcpt)
			}
		}
		// The server's lock is held here (Update), and it guards the
		// outbox too.
		if len(s.outbox) >= maxOutbox {
			s.outbox = slices.Delete(s.outbox, 0, len(s.outbox)-maxOutbox+1)
		}
		s.outbox = append(s.outbox, m)
	})
	if aerr != nil {
		writeAPIError(w, r, aerr)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// inScope reports whether an application access policy's scope holds u's
// mailbox, by object id or address.
func inScope(scope []string, u *User) bool {
	return slices.ContainsFunc(scope, func(s string) bool {
		return strings.EqualFold(s, u.ID) || strings.EqualFold(s, u.Mail) || strings.EqualFold(s, u.UserPrincipalName)
	})
}

// delivers reports whether Exchange can deliver to address once it has
// accepted a mail: any address outside the tenant's domain, as far as
// the tenant knows, and inside it one a mailbox holds.
func (t *Tenant) delivers(address string) bool {
	_, domain, _ := strings.Cut(address, "@")
	if !strings.EqualFold(domain, t.Domain) {
		return true
	}
	return slices.ContainsFunc(t.Users, func(u *User) bool {
		return u.Mailbox && (strings.EqualFold(u.Mail, address) || strings.EqualFold(u.UserPrincipalName, address))
	}) || slices.ContainsFunc(t.Groups, func(g *Group) bool { return g.Mail != "" && strings.EqualFold(g.Mail, address) })
}

// sendMailMediaType checks a sendMail's Content-Type. Graph reads a JSON
// body as the message, and a text/plain one as a whole MIME message in
// base64, which the emulator does not model; anything else it does not
// take.
func sendMailMediaType(contentType string) *apiError {
	mt, _, err := mime.ParseMediaType(contentType)
	switch {
	case err == nil && mt == "application/json":
		return nil
	case err == nil && mt == "text/plain":
		return badRequest(codeBadRequest, "The Graph emulator does not model sending a MIME message (a text/plain body): send the message as JSON.")
	}
	return &apiError{status: http.StatusUnsupportedMediaType, code: "UnsupportedMediaType",
		msg: "The content type '" + contentType + "' is not supported: send the message as application/json."}
}

// sendMailRequest is a sendMail body that passed Graph's schema checks;
// check applies Exchange's rules to it.
type sendMailRequest struct {
	hasMessage   bool
	to, cc, bcc  []Recipient
	replyTo      []Recipient
	badRecipient *string // the first address that is not one
	subject      string
	hasBody      bool
	contentType  string // "text" or "html"; "" when the body named none
	content      string
	save         bool
}

// check applies the rules Exchange enforces once it has the message.
func (q *sendMailRequest) check() *apiError {
	switch {
	case !q.hasMessage:
		// Graph's documentation marks the message required without
		// saying how its absence is refused; a 400 is the least a client
		// can rely on.
		return badRequest(codeInvalidRequest, "The parameter 'Message' is missing from the request: sendMail needs a message to send.")
	case q.badRecipient != nil:
		return badRequest(codeInvalidRecipients, msgUnresolvedRecipient, *q.badRecipient)
	case len(q.to)+len(q.cc)+len(q.bcc) == 0:
		// Reply-to addresses are not recipients: they do not count.
		return badRequest(codeInvalidRecipients, msgNoRecipients)
	case q.hasBody && q.contentType == "" && q.content != "":
		// The documentation does not say what type a body without one
		// takes. Refusing it keeps a client from sending markup that is
		// read as text, or text that is read as markup.
		return badRequest(codeInvalidRequest, "The message body has content but no contentType: give 'text' or 'html'.")
	}
	return nil
}

// jsonField is one property of a JSON object, under the name the client
// spelt.
type jsonField struct {
	name string
	raw  json.RawMessage
}

// isNull reports whether the property's value is JSON null.
func (f jsonField) isNull() bool { return string(bytes.TrimSpace(f.raw)) == "null" }

// foldedObject decodes one JSON object into its properties by lower-case
// name. Graph binds action parameters and the properties of the types
// they carry without regard to case: the SDK sends "Message" and
// "SaveToSentItems" where the documentation spells "message" and
// "saveToSentItems". A property given twice, in any spelling, is
// ambiguous and refused. what names the object for error messages.
func foldedObject(raw []byte, what string) (map[string]jsonField, *apiError) {
	notObject := badRequest(codeRequestBodyRead, "%s must be a JSON object.", what)
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, notObject
	}
	out := map[string]jsonField{}
	for dec.More() {
		tok, err := dec.Token()
		name, ok := tok.(string)
		if err != nil || !ok {
			return nil, notObject
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, notObject
		}
		key := strings.ToLower(name)
		if prev, dup := out[key]; dup {
			return nil, badRequest(codeRequestBodyRead, "Duplicate property named '%s' (also given as '%s') in %s.", name, prev.name, what)
		}
		out[key] = jsonField{name: name, raw: v}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, notObject
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, notObject
	}
	return out, nil
}

// stringValue reads a string property; null reads as "".
func stringValue(f jsonField) (string, *apiError) {
	if f.isNull() {
		return "", nil
	}
	var v string
	if err := json.Unmarshal(f.raw, &v); err != nil {
		return "", badRequest(codeRequestBodyRead, "Cannot convert the literal '%s' to the expected type 'Edm.String'.", f.raw)
	}
	return v, nil
}

// odataTypeOK reports whether an "@odata.type" property names want (or
// is null): the SDK names the type of what it sends, and a client that
// names another type sends something else than the route takes.
func odataTypeOK(f jsonField, want string) bool {
	v, aerr := stringValue(f)
	return aerr == nil && (v == "" || strings.EqualFold(strings.TrimPrefix(v, "#"), want))
}

// unknownProperty is Graph's reply to a property its type does not have.
func unknownProperty(name, typ string) *apiError {
	return badRequest(codeRequestBodyRead, "The property '%s' does not exist on type '%s'. Make sure to only use property names that are defined by the type or mark the type as open type.", name, typ)
}

// unmodelledMessageProps are the properties of microsoft.graph.message the
// emulator does not model. Graph takes them; the emulator refuses them
// with its own words, so that a client relying on one (an attachment, a
// sender other than the mailbox) fails here instead of passing a test
// that cannot see what it sent.
var unmodelledMessageProps = []string{
	"attachments", "bodypreview", "categories", "changekey", "conversationid", "conversationindex",
	"createddatetime", "extensions", "flag", "from", "hasattachments", "id", "importance",
	"inferenceclassification", "internetmessageheaders", "internetmessageid", "isdeliveryreceiptrequested",
	"isdraft", "isread", "isreadreceiptrequested", "lastmodifieddatetime", "multivalueextendedproperties",
	"parentfolderid", "receiveddatetime", "sender", "sentdatetime", "singlevalueextendedproperties",
	"uniquebody", "weblink",
}

// parseSendMail checks a sendMail body against Graph's schema: the
// action's two parameters, the message's properties and their types. The
// rules Exchange applies later are left to check.
func parseSendMail(body []byte) (*sendMailRequest, *apiError) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, badRequest(codeBadRequest, "Empty Payload. JSON content expected.")
	}
	params, aerr := foldedObject(body, "The request body")
	if aerr != nil {
		return nil, aerr
	}
	q := &sendMailRequest{save: true}
	for key, f := range params {
		switch key {
		case "message":
			if f.isNull() {
				continue
			}
			q.hasMessage = true
			if aerr := q.parseMessage(f.raw); aerr != nil {
				return nil, aerr
			}
		case "savetosentitems":
			if f.isNull() {
				continue
			}
			if err := json.Unmarshal(f.raw, &q.save); err != nil {
				return nil, badRequest(codeRequestBodyRead, "Cannot convert the literal '%s' to the expected type 'Edm.Boolean'.", f.raw)
			}
		default:
			return nil, badRequest(codeRequestBodyRead, "The parameter '%s' in the request payload is not a valid parameter for the operation 'sendMail'.", f.name)
		}
	}
	return q, nil
}

func (q *sendMailRequest) parseMessage(raw json.RawMessage) *apiError {
	props, aerr := foldedObject(raw, "The message")
	if aerr != nil {
		return aerr
	}
	for key, f := range props {
		switch key {
		case "@odata.type":
			if !odataTypeOK(f, "microsoft.graph.message") {
				return badRequest(codeRequestBodyRead, "The message's @odata.type %s is not microsoft.graph.message: sendMail sends messages only.", f.raw)
			}
		case "subject":
			if q.subject, aerr = stringValue(f); aerr != nil {
				return aerr
			}
		case "body":
			if f.isNull() {
				continue
			}
			q.hasBody = true
			if aerr := q.parseBody(f.raw); aerr != nil {
				return aerr
			}
		case "torecipients":
			q.to, aerr = q.parseRecipients(f)
		case "ccrecipients":
			q.cc, aerr = q.parseRecipients(f)
		case "bccrecipients":
			q.bcc, aerr = q.parseRecipients(f)
		case "replyto":
			q.replyTo, aerr = q.parseRecipients(f)
		default:
			if slices.Contains(unmodelledMessageProps, key) {
				return badRequest(codeRequestBodyRead, "The Graph emulator does not model the message property '%s'.", f.name)
			}
			return unknownProperty(f.name, "microsoft.graph.message")
		}
		if aerr != nil {
			return aerr
		}
	}
	return nil
}

func (q *sendMailRequest) parseBody(raw json.RawMessage) *apiError {
	props, aerr := foldedObject(raw, "The message's body")
	if aerr != nil {
		return aerr
	}
	for key, f := range props {
		switch key {
		case "@odata.type":
			if !odataTypeOK(f, "microsoft.graph.itemBody") {
				return badRequest(codeRequestBodyRead, "The body's @odata.type %s is not microsoft.graph.itemBody.", f.raw)
			}
		case "content":
			if q.content, aerr = stringValue(f); aerr != nil {
				return aerr
			}
		case "contenttype":
			v, aerr := stringValue(f)
			if aerr != nil {
				return aerr
			}
			// Graph reads enum members without regard to case: its own
			// examples send "Text" and "HTML".
			switch lower := strings.ToLower(v); lower {
			case "text", "html":
				q.contentType = lower
			case "":
			default:
				return badRequest(codeRequestBodyRead, "Requested value '%s' was not found.", v)
			}
		default:
			return unknownProperty(f.name, "microsoft.graph.itemBody")
		}
	}
	return nil
}

// parseRecipients reads a collection of recipients (null is none). An
// address that is not one is kept aside for check, since Exchange, not
// Graph's schema, refuses it.
func (q *sendMailRequest) parseRecipients(f jsonField) ([]Recipient, *apiError) {
	if f.isNull() {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(f.raw, &items); err != nil {
		return nil, badRequest(codeRequestBodyRead, "The property '%s' must be a collection of microsoft.graph.recipient.", f.name)
	}
	out := make([]Recipient, 0, len(items))
	for _, item := range items {
		rcpt, aerr := foldedObject(item, "A recipient")
		if aerr != nil {
			return nil, aerr
		}
		var got Recipient
		for key, rf := range rcpt {
			switch key {
			case "@odata.type":
				if !odataTypeOK(rf, "microsoft.graph.recipient") {
					return nil, badRequest(codeRequestBodyRead, "A recipient's @odata.type %s is not microsoft.graph.recipient.", rf.raw)
				}
			case "emailaddress":
				if rf.isNull() {
					continue
				}
				if got, aerr = parseEmailAddress(rf.raw); aerr != nil {
					return nil, aerr
				}
			default:
				return nil, unknownProperty(rf.name, "microsoft.graph.recipient")
			}
		}
		if !isMailAddress(got.Address) && q.badRecipient == nil {
			bad := got.Address
			q.badRecipient = &bad
		}
		out = append(out, got)
	}
	return out, nil
}

func parseEmailAddress(raw json.RawMessage) (Recipient, *apiError) {
	props, aerr := foldedObject(raw, "An emailAddress")
	if aerr != nil {
		return Recipient{}, aerr
	}
	var r Recipient
	for key, f := range props {
		switch key {
		case "@odata.type":
			if !odataTypeOK(f, "microsoft.graph.emailAddress") {
				return Recipient{}, badRequest(codeRequestBodyRead, "An emailAddress's @odata.type %s is not microsoft.graph.emailAddress.", f.raw)
			}
		case "address":
			r.Address, aerr = stringValue(f)
		case "name":
			r.Name, aerr = stringValue(f)
		default:
			aerr = unknownProperty(f.name, "microsoft.graph.emailAddress")
		}
		if aerr != nil {
			return Recipient{}, aerr
		}
	}
	return r, nil
}

// isMailAddress reports whether s is a bare address that Exchange could
// resolve: one addr-spec, no display name or angle brackets, and a domain
// with a dot. Exchange resolves more loosely (a single-label domain can
// route inside an organisation); the emulator keeps to what reaches
// another tenant, the stricter reading.
func isMailAddress(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return false
	}
	domain := s[strings.LastIndex(s, "@")+1:]
	return strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}
