package graph

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoft/kiota-abstractions-go/serialization"
	khttp "github.com/microsoft/kiota-http-go"
	jsonserialization "github.com/microsoft/kiota-serialization-json-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/tapportal/portal/internal/portal"
)

// batch is a JSON batch being built: requests the SDK's builders describe,
// sent to Graph as one POST /$batch.
type batch struct {
	req msgraphcore.BatchRequest
}

func (c *Client) newBatch() *batch { return &batch{req: msgraphcore.NewBatchRequest(c.adapter)} }

// add adds the request info (or the error building it gave) and returns
// the step's id; o names the read in errors.
func (b *batch) add(o op, info *abstractions.RequestInformation, err error) (string, error) {
	if err != nil {
		return "", translate(o, err)
	}
	item, err := b.req.AddBatchRequestStep(*info)
	if err != nil {
		return "", &portal.Error{Code: portal.EInternal, Message: "The portal could not build a Graph batch.", Err: err}
	}
	return deref(item.GetId()), nil
}

// batchErrors maps a failed $batch POST to Graph's error type, as the
// SDK's generated requests do.
var batchErrors = abstractions.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue}

// reply is a $batch's answer, item by id.
type reply map[string]replyItem

type replyItem struct {
	Status  int
	Headers map[string]string
	// Body is the item's body as a node of the reply's one parse tree.
	Body serialization.ParseNode
}

// envelope reads a $batch reply with the SDK's JSON parser in one pass:
// each item's body stays a node of the tree, decoded into its model when
// asked for, never parsed twice.
type envelope struct{ items []*envelopeItem }

type envelopeItem struct {
	id string
	replyItem
}

func (*envelope) Serialize(serialization.SerializationWriter) error { return nil }

func (e *envelope) GetFieldDeserializers() map[string]func(serialization.ParseNode) error {
	return map[string]func(serialization.ParseNode) error{
		"responses": func(n serialization.ParseNode) error {
			vs, err := n.GetCollectionOfObjectValues(func(serialization.ParseNode) (serialization.Parsable, error) { return &envelopeItem{}, nil })
			for _, v := range vs {
				if it, ok := v.(*envelopeItem); ok {
					e.items = append(e.items, it)
				}
			}
			return err
		},
	}
}

func (*envelopeItem) Serialize(serialization.SerializationWriter) error { return nil }

func (it *envelopeItem) GetFieldDeserializers() map[string]func(serialization.ParseNode) error {
	return map[string]func(serialization.ParseNode) error{
		"id": func(n serialization.ParseNode) error {
			v, err := n.GetStringValue()
			it.id = deref(v)
			return err
		},
		"status": func(n serialization.ParseNode) error {
			v, err := n.GetInt32Value()
			it.Status = int(deref(v))
			return err
		},
		"headers": func(n serialization.ParseNode) error {
			raw, err := n.GetRawValue()
			m, _ := raw.(map[string]any)
			it.Headers = make(map[string]string, len(m))
			for k, v := range m {
				switch v := v.(type) {
				case *string:
					it.Headers[k] = deref(v)
				case string:
					it.Headers[k] = v
				}
			}
			return err
		},
		"body": func(n serialization.ParseNode) error { it.Body = n; return nil },
	}
}

// send posts the batch through the SDK's pipeline (token, retries of the
// whole batch, telemetry) and parses the reply once: each item's body is
// then decoded from its node into the SDK's model. (The SDK's own batch
// reply decodes every body into maps, encodes it again and parses it a
// third time.) o names the batch in errors.
func (c *Client) send(ctx context.Context, b *batch, o op) (reply, error) {
	info := abstractions.NewRequestInformation()
	info.Method = abstractions.POST
	info.UrlTemplate = "{+baseurl}/$batch"
	if err := info.SetContentFromParsable(ctx, c.adapter, "application/json", b.req); err != nil {
		return nil, &portal.Error{Code: portal.EInternal, Message: "The portal could not build a Graph batch.", Err: err}
	}
	info.Headers.TryAdd("Accept", "application/json")
	// The SDK gzips every request body; a batch of reads is a few hundred
	// bytes, and a gzip writer allocates over a megabyte, which made up a
	// fifth of a user page's time.
	info.AddRequestOptions([]abstractions.RequestOption{khttp.NewCompressionOptionsReference(false)})
	v, err := c.adapter.Send(ctx, info, func(serialization.ParseNode) (serialization.Parsable, error) { return &envelope{}, nil }, batchErrors)
	if err != nil {
		return nil, translate(o, err)
	}
	env, _ := v.(*envelope)
	if env == nil || env.items == nil {
		return nil, &portal.Error{Code: portal.EInternal, Message: fmt.Sprintf("Microsoft Graph sent a batch reply the portal cannot read (while trying to %s).", o.what)}
	}
	r := make(reply, len(env.items))
	for _, it := range env.items {
		r[it.id] = it.replyItem
	}
	if c.observeItem != nil {
		for _, step := range b.req.GetRequests() {
			if it, ok := r[deref(step.GetId())]; ok {
				path, _, _ := strings.Cut(deref(step.GetUrl()), "?")
				c.observeItem(deref(step.GetMethod()), path, it.Status)
			}
		}
	}
	return r, nil
}

// transient reports whether Graph could not serve step id for now (429,
// 503, 504): Graph throttles each item of a batch on its own.
func (r reply) transient(id string) bool {
	switch r[id].Status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryAfter is how long Graph asked to wait before step id is tried
// again; zero when it did not say.
func (r reply) retryAfter(id string) time.Duration {
	h := http.Header{}
	for k, v := range r[id].Headers {
		h.Set(k, v)
	}
	return retryAfter(httpHeaders(h))
}

// value decodes step id of the reply: its value on success, else the
// portal's error for its status, as translate gives for a plain request
// (Graph's request id and Retry-After included).
func (r reply) value(id string, o op, factory serialization.ParsableFactory) (serialization.Parsable, error) {
	item, ok := r[id]
	if !ok || item.Status == 0 || item.Body == nil && item.Status < 300 {
		return nil, &portal.Error{Code: portal.EInternal, Message: fmt.Sprintf("Microsoft Graph's batch reply lacks the answer to %s.", o.what)}
	}
	unreadable := func(err error) error {
		return &portal.Error{Code: portal.EInternal, Message: "Microsoft Graph sent a batch reply the portal cannot read.", Err: err}
	}
	node := item.Body
	if node == nil {
		// An error with no body: its status still says what went wrong.
		node, _ = jsonserialization.NewJsonParseNode([]byte("{}"))
	} else if s, err := node.GetStringValue(); err == nil && s != nil {
		// A body that is not JSON comes base64-encoded in a string.
		dec, err := base64.StdEncoding.DecodeString(*s)
		if err != nil {
			return nil, unreadable(err)
		}
		if node, err = jsonserialization.NewJsonParseNode(dec); err != nil {
			return nil, unreadable(err)
		}
	}
	if item.Status >= 300 {
		v, perr := node.GetObjectValue(odataerrors.CreateODataErrorFromDiscriminatorValue)
		odata, _ := v.(*odataerrors.ODataError)
		if perr != nil || odata == nil {
			odata = odataerrors.NewODataError()
		}
		odata.ResponseStatusCode = item.Status
		headers := abstractions.NewResponseHeaders()
		for k, val := range item.Headers {
			headers.Add(k, val)
		}
		odata.ResponseHeaders = headers
		return nil, translate(o, odata)
	}
	v, err := node.GetObjectValue(factory)
	if err != nil || v == nil {
		return nil, unreadable(err)
	}
	return v, nil
}
