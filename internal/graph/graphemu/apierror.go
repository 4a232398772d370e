package graphemu

import (
	"fmt"
	"net/http"
)

// Graph answers every failure with one JSON error shape; handlers build an
// apiError and write it in one place.

// apiError is a Graph error reply waiting to be written.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

// badRequest is a 400 with a formatted message.
func badRequest(code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, msg: fmt.Sprintf(format, args...)}
}

// Error codes the directory APIs use.
const (
	codeBadRequest       = "BadRequest"
	codeRequestBad       = "Request_BadRequest"
	codeUnsupportedQuery = "Request_UnsupportedQuery"
	codeNotFound         = "Request_ResourceNotFound"
)

// notFound is Graph's reply for an id that names nothing.
func notFound(id string) *apiError {
	return &apiError{status: http.StatusNotFound, code: codeNotFound,
		msg: fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id)}
}

// writeAPIError writes e as Graph's error reply.
func writeAPIError(w http.ResponseWriter, r *http.Request, e *apiError) {
	writeError(w, r, e.status, e.code, e.msg)
}
