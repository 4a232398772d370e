package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/tapportal/portal/internal/portal"
)

// A user's manager, and mail sent as the portal's own mailbox: the way a
// pass's passcode reaches a manager, and notices reach people.

var (
	opManager  = op{"read the user's manager", "User.Read.All", "The user was not found in the directory."}
	opSendMail = op{"send mail", "Mail.Send", "The sending mailbox was not found in the tenant."}
)

// Manager returns the user's manager, with the fields User reads, or nil
// when the user has none. userID must be an object id. A manager that is
// not a user of the directory (an organisational contact, which a
// directory synchronised from on-premises can set) gives ENotFound: the
// portal has no user to show or to mail.
func (c *Client) Manager(ctx context.Context, userID string) (*portal.User, error) {
	if err := checkObjectID(userID); err != nil {
		return nil, err
	}
	ctx, cancel := c.call(ctx)
	defer cancel()
	info, err := c.sdk.Users().ByUserId(userID).Manager().ToGetRequestInformation(ctx, &users.ItemManagerRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemManagerRequestBuilderGetQueryParameters{Select: userFields},
	})
	if err != nil {
		return nil, translate(opManager, err)
	}
	raw, err := c.adapter.SendPrimitive(ctx, info, "[]byte", batchErrors)
	if err != nil {
		if noManager(err, userID) {
			return nil, nil
		}
		return nil, translate(opManager, err)
	}
	data, _ := raw.([]byte)
	var m wireObject
	if err := decodeWire(data, &m); err != nil || m.ID == "" {
		return nil, &portal.Error{Code: portal.EInternal, Message: "Microsoft Graph sent a reply the portal cannot read while trying to read the user's manager.", Err: err}
	}
	if m.Type != "#microsoft.graph.user" {
		return nil, &portal.Error{Code: portal.ENotFound,
			Message: "The user's manager is not a user of the directory (it is a " + orUnknown(m.Type) + "), so the portal cannot use it."}
	}
	u := m.user()
	return &u, nil
}

// noManager reports whether err is Graph saying that the user has no
// manager. Graph answers 404 Request_ResourceNotFound both for a user
// without a manager and for a user that does not exist; only the latter
// names the user in its message, so a 404 that names the user is the
// user missing and any other is the manager missing.
func noManager(err error, userID string) bool {
	var odata *odataerrors.ODataError
	if !errors.As(err, &odata) || odata.ResponseStatusCode != http.StatusNotFound {
		return false
	}
	code, msg := odataCodeMessage(odata)
	return strings.EqualFold(code, "Request_ResourceNotFound") && !containsFold(msg, "'"+userID+"'")
}

func orUnknown(odataType string) string {
	if odataType == "" {
		return "directory object of unknown type"
	}
	return strings.TrimPrefix(odataType, "#microsoft.graph.")
}

// SendMail sends m as from, the portal's sending mailbox (an object id
// or an address, from the portal's settings), and returns Graph's
// request id. It needs the Mail.Send application permission.
//
// The copy Exchange would keep in the mailbox's Sent Items is not kept: a
// passcode in a shared mailbox's Sent Items could be read by everyone
// with access to that mailbox for as long as it is kept.
//
// Errors: EInvalid for a Mail that Check refuses or recipients Exchange
// refuses; EConfig when from names no user or a user without an
// Exchange Online mailbox; EForbidden without the permission; EThrottled;
// EUnavailable. Graph takes the message and sends it before it answers,
// so a failure after the request left (a 5xx, a timeout, a dropped
// connection) is Unsure: the mail may be on its way, and sending it again
// may send it twice. Only a 429 is retried, as for every write.
func (c *Client) SendMail(ctx context.Context, from string, m portal.Mail) (requestID string, err error) {
	if err := portal.CheckTarget(from); err != nil {
		return "", &portal.Error{Code: portal.EConfig,
			Message: fmt.Sprintf("The sending mailbox %q is neither a directory object id nor an address.", from)}
	}
	if err := m.Check(); err != nil {
		return "", err
	}
	ctx, cancel := c.call(ctx)
	defer cancel()
	inspect := responseHeaders()
	err = c.sdk.Users().ByUserId(from).SendMail().Post(ctx, sendMailBody(m),
		&users.ItemSendMailRequestBuilderPostRequestConfiguration{Options: []abstractions.RequestOption{inspect}})
	if err != nil {
		return "", translateSend(from, err)
	}
	return firstHeader(inspect, "request-id"), nil
}

// sendMailBody builds the action's body: a text message, not saved to
// Sent Items.
func sendMailBody(m portal.Mail) *users.ItemSendMailPostRequestBody {
	msg := models.NewMessage()
	subject := m.Subject
	msg.SetSubject(&subject)
	body := models.NewItemBody()
	text, content := models.TEXT_BODYTYPE, m.Text.Reveal()
	body.SetContentType(&text)
	body.SetContent(&content)
	msg.SetBody(body)
	msg.SetToRecipients(recipients(m.To))
	if len(m.Cc) > 0 {
		msg.SetCcRecipients(recipients(m.Cc))
	}
	out := users.NewItemSendMailPostRequestBody()
	out.SetMessage(msg)
	save := false
	out.SetSaveToSentItems(&save)
	return out
}

func recipients(as []portal.Address) []models.Recipientable {
	out := make([]models.Recipientable, 0, len(as))
	for _, a := range as {
		addr := models.NewEmailAddress()
		address := a.Address
		addr.SetAddress(&address)
		if a.Name != "" {
			name := a.Name
			addr.SetName(&name)
		}
		r := models.NewRecipient()
		r.SetEmailAddress(addr)
		out = append(out, r)
	}
	return out
}

// translateSend is translateWrite for sendMail, whose refusals come from
// Exchange Online with codes of its own. The 400s are read here rather
// than by translate, whose 400 rules are about passes: a recipient's
// address that holds "guest" must not read as a refused guest pass.
func translateSend(from string, err error) error {
	out := translateWrite(opSendMail, err)
	pe, ok := out.(*portal.Error)
	var odata *odataerrors.ODataError
	if !ok || !errors.As(err, &odata) {
		return out
	}
	code, msg := odataCodeMessage(odata)
	switch status := odata.ResponseStatusCode; {
	case status == http.StatusNotFound && strings.EqualFold(code, "MailboxNotEnabledForRESTAPI"):
		pe.Code = portal.EConfig
		pe.Message = fmt.Sprintf("The sending mailbox %s has no Exchange Online mailbox Microsoft Graph can send from: it is unlicensed, a guest, inactive, or hosted on-premises. Use a mailbox in Exchange Online, such as a shared mailbox.", from)
	case status == http.StatusNotFound:
		pe.Code = portal.EConfig
		pe.Message = fmt.Sprintf("The sending mailbox %s does not exist in the tenant.", from)
	case status == http.StatusBadRequest && strings.EqualFold(code, "ErrorInvalidRecipients"):
		pe.Code = portal.EInvalid
		pe.Message = "Exchange Online refused the mail's recipients: " + msg
	case status == http.StatusBadRequest:
		pe.Code = portal.EInvalid
		pe.Message = "Microsoft Graph refused the mail: " + msg
	case status == http.StatusForbidden:
		// Exchange refuses with a 403 ErrorAccessDenied too when an
		// application access policy keeps the app from this mailbox, in
		// other words ("Access to OData is disabled.").
		pe.Message = fmt.Sprintf("The portal's Graph app may not send mail as %s: it needs the Mail.Send application permission with admin consent, and, if the tenant restricts the app with an Exchange application access policy, that mailbox must be in its scope.", from)
	}
	return pe
}

// odataCodeMessage returns the code and message of Graph's error.
func odataCodeMessage(odata *odataerrors.ODataError) (code, msg string) {
	if main := odata.GetErrorEscaped(); main != nil {
		return deref(main.GetCode()), deref(main.GetMessage())
	}
	return "", ""
}
