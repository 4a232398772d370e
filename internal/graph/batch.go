package graph

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	abstractions "github.com/microsoft/kiota-abstractions-go"
	khttp "github.com/microsoft/kiota-http-go"
	jsonserialization "github.com/microsoft/kiota-serialization-json-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/tapportal/portal/internal/portal"
)

// batch is a JSON batch being built: requests the SDK's builders describe
// (or their URLs, built once), sent to Graph as one POST /$batch.
type batch struct {
	v1    string // the Graph root including /v1.0, which step URLs are relative to
	steps []step
}

// step is one request of a batch, as Graph's $batch takes it.
type step struct {
	ID      string            `json:"id"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

func (c *Client) newBatch() *batch { return &batch{v1: c.v1} }

// get adds a GET of url, relative to the Graph root, and returns the
// step's id.
func (b *batch) get(url string) string {
	id := strconv.Itoa(len(b.steps) + 1)
	b.steps = append(b.steps, step{ID: id, Method: http.MethodGet, URL: url})
	return id
}

// add adds the request info (or the error building it gave) and returns
// the step's id; o names the request in errors.
func (b *batch) add(o op, info *abstractions.RequestInformation, err error) (string, error) {
	if err != nil {
		return "", translate(o, err)
	}
	s, err := stepOf(b.v1, info)
	if err != nil {
		return "", &portal.Error{Code: portal.EInternal, Message: "The portal could not build a Graph batch.", Err: err}
	}
	s.ID = strconv.Itoa(len(b.steps) + 1)
	b.steps = append(b.steps, s)
	return s.ID, nil
}

// stepOf turns a request the SDK built into a batch step: its URL made
// relative to the Graph root, its headers, and its JSON body.
func stepOf(v1 string, info *abstractions.RequestInformation) (step, error) {
	u, err := info.GetUri()
	if err != nil {
		return step{}, err
	}
	rel, ok := strings.CutPrefix(u.String(), v1)
	if !ok {
		return step{}, fmt.Errorf("%s is not under the Graph root", u.Redacted())
	}
	s := step{Method: info.Method.String(), URL: rel}
	for _, k := range info.Headers.ListKeys() {
		if v := info.Headers.Get(k); len(v) > 0 {
			if s.Headers == nil {
				s.Headers = map[string]string{}
			}
			s.Headers[k] = strings.Join(v, ", ")
		}
	}
	if len(info.Content) > 0 {
		if !json.Valid(info.Content) {
			return step{}, fmt.Errorf("the body of %s %s is not JSON", s.Method, rel)
		}
		s.Body = info.Content
		if s.Headers == nil {
			s.Headers = map[string]string{}
		}
		// The SDK keeps header names in lower case.
		s.Headers["content-type"] = "application/json"
	}
	return s, nil
}

// batchErrors maps a failed $batch POST (and any other request the portal
// sends without a generated method) to Graph's error type, as the SDK's
// generated requests do.
var batchErrors = abstractions.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue}

// reply is a $batch's answer, item by id.
type reply map[string]replyItem

type replyItem struct {
	Status int
	// Headers are the item's headers as Graph sent them (a JSON object),
	// read only when asked for: most items' are never needed.
	Headers jsontext.Value
	// Body is the item's body, decoded; Raw is its JSON, kept for a failed
	// item only (its error is read from it).
	Body *wireBody
	Raw  json.RawMessage
	// unreadable is why a successful item's body could not be decoded.
	unreadable error
}

// send posts the batch through the SDK's pipeline (token, retries of the
// whole batch, telemetry) and reads the reply's items. o names the batch
// in errors.
func (c *Client) send(ctx context.Context, b *batch, o op) (reply, error) {
	body, err := json.Marshal(struct {
		Requests []step `json:"requests"`
	}{b.steps})
	if err != nil {
		return nil, &portal.Error{Code: portal.EInternal, Message: "The portal could not build a Graph batch.", Err: err}
	}
	info := abstractions.NewRequestInformation()
	info.Method = abstractions.POST
	info.SetUri(*c.batchURL)
	info.SetStreamContentAndContentType(body, "application/json")
	info.Headers.TryAdd("Accept", "application/json")
	// The SDK gzips every request body; a batch of reads is a few hundred
	// bytes, and a gzip writer allocates over a megabyte, which made up a
	// fifth of a user page's time.
	info.AddRequestOptions([]abstractions.RequestOption{khttp.NewCompressionOptionsReference(false)})
	raw, err := c.adapter.SendPrimitive(ctx, info, "[]byte", batchErrors)
	if err != nil {
		return nil, translate(o, err)
	}
	r, err := readReply(raw)
	if err != nil {
		return nil, &portal.Error{Code: portal.EInternal, Message: fmt.Sprintf("Microsoft Graph sent a batch reply the portal cannot read (while trying to %s).", o.what), Err: err}
	}
	if c.observeItem != nil {
		for _, s := range b.steps {
			if it, ok := r[s.ID]; ok {
				path, _, _ := strings.Cut(s.URL, "?")
				c.observeItem(s.Method, path, it.Status)
			}
		}
	}
	return r, nil
}

// envelope is a $batch reply with its items' bodies read as B.
type envelope[B any] struct {
	Responses []struct {
		ID      string         `json:"id"`
		Status  int            `json:"status"`
		Headers jsontext.Value `json:"headers"`
		Body    B              `json:"body"`
	} `json:"responses"`
}

// readReply reads a $batch reply: each item's status, headers and body.
//
// Most replies are read in one pass, every body straight into a
// wireBody. A reply with a failed item, a body that is not a JSON object
// (one that is not JSON comes base64-encoded in a string), or a body the
// decoding refuses, is read again item by item, so that a bad body fails
// its own item only.
func readReply(raw any) (reply, error) {
	data, _ := raw.([]byte)
	var fast envelope[*wireBody]
	if err := decodeWire(data, &fast); err == nil && fast.Responses != nil {
		r := make(reply, len(fast.Responses))
		for _, it := range fast.Responses {
			if it.Status >= 300 {
				r = nil
				break
			}
			r[it.ID] = replyItem{Status: it.Status, Headers: it.Headers, Body: it.Body}
		}
		if r != nil {
			return r, nil
		}
	}
	// Item by item, each body kept as it came (a name given twice in one
	// body fails that item only, below).
	var env envelope[jsontext.Value]
	if err := decodeWire(data, &env, jsontext.AllowDuplicateNames(true)); err != nil {
		return nil, err
	}
	if env.Responses == nil {
		return nil, fmt.Errorf("no responses in the reply")
	}
	r := make(reply, len(env.Responses))
	for _, it := range env.Responses {
		body := it.Body
		switch {
		case bytes.Equal(body, []byte("null")):
			body = nil
		case len(body) > 0 && body[0] == '"':
			var s string
			if err := decodeWire(body, &s); err != nil {
				return nil, err
			}
			dec, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, fmt.Errorf("item %s: %w", it.ID, err)
			}
			body = dec
		}
		item := replyItem{Status: it.Status, Headers: it.Headers}
		if it.Status >= 300 {
			item.Raw = json.RawMessage(body)
		} else if body != nil {
			item.Body = new(wireBody)
			// A body of the wrong shape fails its own item only.
			item.unreadable = decodeWire(body, item.Body)
		}
		r[it.ID] = item
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
	for k, v := range r[id].headers() {
		h.Set(k, v)
	}
	return retryAfter(httpHeaders(h))
}

// header is a header of step id's reply, whatever its case.
func (r reply) header(id, name string) string {
	for k, v := range r[id].headers() {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// body is step id's body on success; else the portal's error for the
// item's status, as translate gives for a plain request (Graph's request
// id and Retry-After included).
func (r reply) body(id string, o op) (*wireBody, error) {
	item, ok := r[id]
	if !ok || item.Status == 0 || item.Body == nil && item.Status < 300 {
		return nil, &portal.Error{Code: portal.EInternal, Message: fmt.Sprintf("Microsoft Graph's batch reply lacks the answer to %s.", o.what)}
	}
	if item.Status >= 300 {
		return nil, translate(o, item.odataError())
	}
	if item.unreadable != nil {
		return nil, &portal.Error{Code: portal.EInternal, Message: "Microsoft Graph sent a batch reply the portal cannot read.", Err: item.unreadable}
	}
	return item.Body, nil
}

// headers are the item's headers by name. Headers that are not an object
// of strings are read as none: they only ever refine what the status
// says (how long to wait, Graph's request id).
func (it replyItem) headers() map[string]string {
	var h map[string]string
	if len(it.Headers) > 0 && decodeWire(it.Headers, &h) != nil {
		return nil
	}
	return h
}

// odataError is the failed item as the SDK's error type, which translate
// reads: Graph's error body (read with the SDK's parser, as for a plain
// request), the status and the headers.
func (it replyItem) odataError() *odataerrors.ODataError {
	var odata *odataerrors.ODataError
	if len(it.Raw) > 0 {
		if node, err := jsonserialization.NewJsonParseNode(it.Raw); err == nil {
			v, _ := node.GetObjectValue(odataerrors.CreateODataErrorFromDiscriminatorValue)
			odata, _ = v.(*odataerrors.ODataError)
		}
	}
	if odata == nil {
		// An error with no body, or one that is not Graph's: its status
		// still says what went wrong.
		odata = odataerrors.NewODataError()
	}
	odata.ResponseStatusCode = it.Status
	headers := abstractions.NewResponseHeaders()
	for k, val := range it.headers() {
		headers.Add(k, val)
	}
	odata.ResponseHeaders = headers
	return odata
}

// getJSON sends a request the SDK built through its pipeline and decodes
// the JSON reply. o names the request in errors.
func (c *Client) getJSON(ctx context.Context, info *abstractions.RequestInformation, o op) (*wireBody, error) {
	raw, err := c.adapter.SendPrimitive(ctx, info, "[]byte", batchErrors)
	if err != nil {
		return nil, translate(o, err)
	}
	data, _ := raw.([]byte)
	if len(data) == 0 {
		return nil, &portal.Error{Code: portal.EInternal, Message: fmt.Sprintf("Microsoft Graph sent an empty reply while trying to %s.", o.what)}
	}
	var b wireBody
	if err := decodeWire(data, &b); err != nil {
		return nil, &portal.Error{Code: portal.EInternal, Message: fmt.Sprintf("Microsoft Graph sent a reply the portal cannot read while trying to %s.", o.what), Err: err}
	}
	return &b, nil
}

// list reads a listing page by page: from the request first or, with from
// set, from that next link on. Each next link is checked to stay on the
// Graph root. It stops after maxPages, so that a reply that links back to
// itself cannot loop forever.
func (c *Client) list(ctx context.Context, o op, what string, first *abstractions.RequestInformation, from string) ([]wireObject, error) {
	info, next := first, from
	var out []wireObject
	for range maxPages {
		if next != "" {
			if err := c.sameOrigin(next); err != nil {
				return nil, err
			}
			u, err := url.Parse(next)
			if err != nil {
				return nil, &portal.Error{Code: portal.EInternal, Message: "Microsoft Graph sent a next-page link the portal cannot read.", Err: err}
			}
			info = abstractions.NewRequestInformation()
			info.Method = abstractions.GET
			info.SetUri(*u)
			info.Headers.AddAll(first.Headers)
			info.AddRequestOptions(first.GetRequestOptions())
		}
		page, err := c.getJSON(ctx, info, o)
		if err != nil {
			return nil, err
		}
		items, err := page.listed(o)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if next = page.NextLink; next == "" {
			return out, nil
		}
	}
	return nil, tooManyPages(what)
}
