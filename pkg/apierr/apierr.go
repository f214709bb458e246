// Package apierr is the error model shared by every service: errors carry a
// kind, not an HTTP status, and one function turns them into a status code
// and the JSON body {"error": "<code>", "message": "<text>", ...}.
//
// Internal errors never leak their text to clients: the body says
// "internal_error" and the cause is only logged by the caller.
package apierr

import (
	"encoding/json"
	"errors"
	"net/http"
)

// Kind classifies an error for the client.
type Kind int

// The kinds of error an API can return.
const (
	Internal Kind = iota
	Invalid
	Unprocessable
	Unauthenticated
	Forbidden
	NotFound
	Conflict
	TooLarge
	RateLimited
	Unavailable
	Timeout
	MethodNotAllowed
)

var statuses = map[Kind]int{
	Internal:         http.StatusInternalServerError,
	Invalid:          http.StatusBadRequest,
	Unprocessable:    http.StatusUnprocessableEntity,
	Unauthenticated:  http.StatusUnauthorized,
	Forbidden:        http.StatusForbidden,
	NotFound:         http.StatusNotFound,
	Conflict:         http.StatusConflict,
	TooLarge:         http.StatusRequestEntityTooLarge,
	RateLimited:      http.StatusTooManyRequests,
	Unavailable:      http.StatusServiceUnavailable,
	Timeout:          http.StatusGatewayTimeout,
	MethodNotAllowed: http.StatusMethodNotAllowed,
}

// Status is the HTTP status of a kind.
func (k Kind) Status() int { return statuses[k] }

// Error is an API error. Code is a stable snake_case identifier clients may
// switch on; Message is for humans; Fields adds members to the JSON body
// (e.g. the allowed parameters). Body, when set, replaces the whole JSON body:
// it exists for legacy endpoints whose clients expect another shape.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Fields  map[string]any
	Body    any
	cause   error
}

func (e *Error) Error() string {
	if e.cause != nil {
		return e.Code + ": " + e.Message + ": " + e.cause.Error()
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.cause }

// New returns an error of kind with a code and message.
func New(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

// Wrap returns an error of kind that keeps cause for logs and errors.Is.
func Wrap(kind Kind, code, message string, cause error) *Error {
	return &Error{Kind: kind, Code: code, Message: message, cause: cause}
}

// With returns a copy of e with an extra JSON member.
func (e *Error) With(key string, value any) *Error {
	c := *e
	c.Fields = make(map[string]any, len(e.Fields)+1)
	for k, v := range e.Fields {
		c.Fields[k] = v
	}
	c.Fields[key] = value
	return &c
}

// From returns the *Error in err's chain, or an internal error wrapping err.
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Wrap(Internal, "internal_error", "Internal server error", err)
}

// Body returns the JSON value sent to clients for e.
func (e *Error) body() any {
	if e.Body != nil {
		return e.Body
	}
	if e.Kind == Internal {
		return map[string]any{"error": "internal_error", "message": "Internal server error"}
	}
	m := make(map[string]any, len(e.Fields)+2)
	for k, v := range e.Fields {
		m[k] = v
	}
	m["error"] = e.Code
	m["message"] = e.Message
	return m
}

// Write sends err as a JSON error response and returns the status it sent.
func Write(w http.ResponseWriter, err error) int {
	e := From(err)
	status := e.Kind.Status()
	b, mErr := json.Marshal(e.body())
	if mErr != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal_error","message":"Internal server error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return status
}

// NotFoundHandler answers every request with a not_found error.
func NotFoundHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Write(w, New(NotFound, "not_found", "No endpoint at "+r.URL.Path))
	})
}
