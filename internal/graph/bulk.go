package graph

import (
	"context"
	"fmt"
	"net/http"

	"github.com/tapportal/portal/internal/portal"
)

// MaxBatch is the most requests Graph takes in one $batch.
const MaxBatch = 20

// CreateTAPs creates up to MaxBatch passes in one $batch and answers each
// by its key, in the order given. Graph throttles each item on its own: a
// throttled item fails with EThrottled and its Retry-After, and Graph did
// not act on it. An item that failed with 5xx, or a batch whose reply was
// lost, may have been carried out: its error is Unsure.
func (c *Client) CreateTAPs(ctx context.Context, creates []portal.TAPCreate) ([]portal.TAPCreated, error) {
	if len(creates) == 0 || len(creates) > MaxBatch {
		return nil, &portal.Error{Code: portal.EInvalid, Message: fmt.Sprintf("A batch holds 1 to %d passes, not %d.", MaxBatch, len(creates))}
	}
	out := make([]portal.TAPCreated, len(creates))
	b := c.newBatch()
	steps := make([]string, len(creates))
	for i, cr := range creates {
		out[i].Key = cr.Key
		body, err := newTAPBody(cr.UserID, cr.Req)
		if err != nil {
			out[i].Err = err
			continue
		}
		info, err := c.sdk.Users().ByUserId(cr.UserID).Authentication().TemporaryAccessPassMethods().ToPostRequestInformation(ctx, body, nil)
		if steps[i], err = b.add(opTAPCreate, info, err); err != nil {
			out[i].Err = err
		}
	}
	if len(b.steps) == 0 {
		return out, nil
	}
	ctx, cancel := c.call(ctx)
	defer cancel()
	r, err := c.send(ctx, b, opTAPCreate)
	for i, id := range steps {
		switch {
		case id == "" || out[i].Err != nil:
		case err != nil:
			out[i].Err = batchFailed(err)
		default:
			out[i].Issued, out[i].Err = r.created(id)
		}
	}
	return out, nil
}

// created reads the create of step id.
func (r reply) created(id string) (portal.IssuedTAP, error) {
	requestID := r.header(id, "request-id")
	it, ok := r[id]
	if !ok || it.Status < 200 || it.Status >= 300 {
		_, err := r.body(id, opTAPCreate)
		// Only a 4xx says Graph refused before acting (a 408 excepted: the
		// request timed out somewhere on its way); a missing item, a 5xx
		// or a status no create answers with leaves it open.
		if sure := ok && it.Status >= 400 && it.Status < 500 && it.Status != http.StatusRequestTimeout; sure && err != nil {
			return portal.IssuedTAP{}, err
		}
		return portal.IssuedTAP{}, unsureCreate(err)
	}
	b, err := r.body(id, opTAPCreate)
	if err != nil {
		// Graph acted: what it sent cannot be read.
		return portal.IssuedTAP{}, unsureCreate(err)
	}
	return issued(b.wireObject, requestID)
}

// batchFailed is each create's error when the batch as a whole failed:
// sure when Graph refused the batch before acting on it (or it never left),
// else unsure, since any of its creates may stand.
func batchFailed(err error) error {
	switch portal.ErrorCode(err) {
	case portal.EForbidden, portal.EInvalid, portal.EThrottled, portal.ENotFound:
		return err
	}
	if neverSent(err) {
		return err
	}
	return unsureCreate(err)
}

// unsureCreate marks err as a create Graph may have carried out.
func unsureCreate(err error) error {
	pe, ok := err.(*portal.Error)
	if !ok {
		pe = &portal.Error{Code: portal.EUnavailable, Err: err}
	}
	out := *pe
	out.Unsure = true
	out.Message = fmt.Sprintf("Microsoft Graph did not confirm whether it could %s: it may have done so.", opTAPCreate.what)
	return &out
}
