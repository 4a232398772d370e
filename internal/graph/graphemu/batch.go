package graphemu

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// batchItemKey marks the context of a request that is an item of a batch.
type batchItemKey struct{}

// maxBatchRequests is Graph's limit on the requests in one $batch.
const maxBatchRequests = 20

// batchItem is one request of a JSON batch.
type batchItem struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	DependsOn []string          `json:"dependsOn"`
}

// batchResult is the reply to one batchItem.
type batchResult struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

// batchMethods are the methods a batch item may use.
var batchMethods = []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete}

func (s *Server) registerBatchRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1.0/$batch", s.handleBatch)
}

// handleBatch runs the items of a JSON batch through the Graph routes:
// all at once when none depends on another (as Graph does), else one after
// the other in the order given, which keeps dependsOn simple. Replies come
// in the order of the requests, one of the orders Graph allows.
func (s *Server) handleBatch(w http.ResponseWriter, r *http.Request) {
	// The batch itself needs a valid token; each item then checks the
	// permissions its own route needs.
	if !s.authorize(w, r, permDirectory) {
		return
	}
	var payload struct {
		Requests []batchItem `json:"requests"`
	}
	if err := json.NewDecoder(r.Body).Decode(&payload); err != nil || payload.Requests == nil {
		writeError(w, r, http.StatusBadRequest, "BadRequest", "Invalid batch payload format.")
		return
	}
	if msg := validateBatch(payload.Requests); msg != "" {
		writeError(w, r, http.StatusBadRequest, "BadRequest", msg)
		return
	}

	if !slices.ContainsFunc(payload.Requests, func(it batchItem) bool { return len(it.DependsOn) > 0 }) {
		// Independent items run at once, as Graph runs them: a batch takes
		// as long as its slowest item, not the sum.
		results := make([]batchResult, len(payload.Requests))
		var aborted atomic.Bool
		var wg sync.WaitGroup
		for i, it := range payload.Requests {
			wg.Go(func() {
				defer func() {
					if p := recover(); p != nil {
						if p != http.ErrAbortHandler {
							panic(p)
						}
						aborted.Store(true)
					}
				}()
				results[i] = s.runBatchItem(r, it)
			})
		}
		wg.Wait()
		if aborted.Load() {
			// An item dropped the connection: the whole reply goes with it.
			panic(http.ErrAbortHandler)
		}
		writeJSON(w, http.StatusOK, map[string]any{"responses": results})
		return
	}
	status := make(map[string]int, len(payload.Requests))
	results := make([]batchResult, 0, len(payload.Requests))
	for _, it := range payload.Requests {
		var res batchResult
		if dep := failedDependency(it, status); dep != "" {
			res = dependencyFailed(r, it.ID, dep)
		} else {
			res = s.runBatchItem(r, it)
		}
		status[it.ID] = res.Status
		results = append(results, res)
	}
	writeJSON(w, http.StatusOK, map[string]any{"responses": results})
}

// validateBatch checks the whole batch before any item runs, so that a
// malformed batch changes nothing. It returns the error message, or "".
func validateBatch(items []batchItem) string {
	switch {
	case len(items) == 0:
		return "Invalid batch payload format: the batch contains no requests."
	case len(items) > maxBatchRequests:
		return fmt.Sprintf("Number of requests exceeds the maximum of %d.", maxBatchRequests)
	}
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		switch {
		case it.ID == "":
			return "Every request in a batch must have an id."
		case seen[it.ID]:
			return fmt.Sprintf("Request id '%s' appears more than once in the batch.", it.ID)
		case !containsFold(batchMethods, it.Method):
			return fmt.Sprintf("Request '%s' has an invalid or missing method '%s'.", it.ID, it.Method)
		case it.URL == "":
			return fmt.Sprintf("Request '%s' has no url.", it.ID)
		}
		u, err := url.Parse(it.URL)
		if err != nil || u.IsAbs() || u.Host != "" {
			return fmt.Sprintf("Request '%s' has an invalid url '%s': it must be relative to the service root.", it.ID, it.URL)
		}
		if strings.HasPrefix(strings.TrimPrefix(u.Path, "/"), "$batch") {
			return fmt.Sprintf("Request '%s' is a nested batch, which is not supported.", it.ID)
		}
		if hasBody(it.Body) && headerValue(it.Headers, "Content-Type") == "" {
			return fmt.Sprintf("Request '%s' has a body but no Content-Type header.", it.ID)
		}
		// Items run in order, so a dependency must come earlier; this also
		// rules out cycles.
		for _, d := range it.DependsOn {
			if !seen[d] {
				return fmt.Sprintf("Request '%s' depends on '%s', which is not an earlier request in the batch.", it.ID, d)
			}
		}
		seen[it.ID] = true
	}
	return ""
}

// failedDependency returns the first dependency of it that failed, or "".
func failedDependency(it batchItem, status map[string]int) string {
	for _, d := range it.DependsOn {
		if status[d] >= 400 {
			return d
		}
	}
	return ""
}

// dependencyFailed is the reply to an item not run because dep failed.
func dependencyFailed(r *http.Request, id, dep string) batchResult {
	rec := newItemRecorder()
	writeError(rec, r, http.StatusFailedDependency, "FailedDependency",
		fmt.Sprintf("The request was not run because request '%s', which it depends on, failed.", dep))
	return rec.result(id)
}

// runBatchItem serves one item in-process as if it were a request of its
// own, carrying the batch's credentials, so faults, authorization and the
// request log apply to it.
func (s *Server) runBatchItem(outer *http.Request, it batchItem) batchResult {
	var body []byte
	if hasBody(it.Body) {
		body = it.Body
	}
	inner, err := http.NewRequestWithContext(context.WithValue(outer.Context(), batchItemKey{}, true), strings.ToUpper(it.Method),
		"/v1.0/"+strings.TrimPrefix(it.URL, "/"), bytes.NewReader(body))
	if err != nil {
		rec := newItemRecorder()
		writeError(rec, outer, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid request url '%s'.", it.URL))
		return rec.result(it.ID)
	}
	inner.Host = outer.Host
	inner.RemoteAddr = outer.RemoteAddr
	inner.RequestURI = inner.URL.RequestURI()
	for k, v := range it.Headers {
		switch http.CanonicalHeaderKey(k) {
		case "Authorization", "Content-Length", "Content-Encoding", "Host":
			// The batch's own token and framing apply, not the item's.
			continue
		}
		inner.Header.Set(k, v)
	}
	if a := outer.Header.Get("Authorization"); a != "" {
		inner.Header.Set("Authorization", a)
	}
	if c := outer.Header.Get("client-request-id"); c != "" && inner.Header.Get("client-request-id") == "" {
		inner.Header.Set("client-request-id", c)
	}

	latency, fault := s.matchFaults(inner)
	spent, _ := outer.Context().Value(envelopeLatencyKey).(time.Duration)
	latency = max(0, latency-spent)
	// A batch is one HTTP exchange: an item that is dropped, or whose
	// client went away while it waited, drops the whole reply.
	if !sleep(inner.Context(), latency) || fault != nil && fault.Drop {
		panic(http.ErrAbortHandler)
	}
	rec := newItemRecorder()
	s.serve(rec, inner, body, fault, s.graph)
	return rec.result(it.ID)
}

// hasBody reports whether an item carries a body; JSON null counts as none.
func hasBody(b json.RawMessage) bool {
	t := bytes.TrimSpace(b)
	return len(t) > 0 && !bytes.Equal(t, []byte("null"))
}

// headerValue looks a header up in an item's headers, whose names the
// client may spell in any case.
func headerValue(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// itemRecorder captures the reply to a batch item.
type itemRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newItemRecorder() *itemRecorder { return &itemRecorder{header: http.Header{}} }

func (w *itemRecorder) Header() http.Header { return w.header }

func (w *itemRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *itemRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}

// result turns the captured reply into a batch result. A JSON body is
// embedded as is; any other body is base64-encoded, as Graph does.
func (w *itemRecorder) result(id string) batchResult {
	res := batchResult{ID: id, Status: w.status}
	if res.Status == 0 {
		res.Status = http.StatusOK
	}
	if len(w.header) > 0 {
		res.Headers = make(map[string]string, len(w.header))
		for k, v := range w.header {
			res.Headers[k] = strings.Join(v, ", ")
		}
	}
	switch b := bytes.TrimSpace(w.body.Bytes()); {
	case len(b) == 0:
	case json.Valid(b):
		res.Body = b
	default:
		res.Body, _ = json.Marshal(base64.StdEncoding.EncodeToString(w.body.Bytes()))
	}
	return res
}
