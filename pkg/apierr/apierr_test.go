package apierr

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantBody   string
	}{
		{"invalid", New(Invalid, "bad_param", "page must be positive"), 400,
			`{"error":"bad_param","message":"page must be positive"}`},
		{"fields", New(Invalid, "invalid_query_params", "unknown parameters").With("unexpected", []string{"x"}), 400,
			`{"error":"invalid_query_params","message":"unknown parameters","unexpected":["x"]}`},
		{"wrapped in chain", fmt.Errorf("load: %w", New(NotFound, "not_found", "no such bin")), 404,
			`{"error":"not_found","message":"no such bin"}`},
		{"internal hides cause", Wrap(Internal, "db", "secret detail", errors.New("password=hunter2")), 500,
			`{"error":"internal_error","message":"Internal server error"}`},
		{"plain error is internal", errors.New("boom"), 500,
			`{"error":"internal_error","message":"Internal server error"}`},
		{"legacy body", &Error{Kind: Invalid, Body: map[string]string{"detail": "No timebin parameter."}}, 400,
			`{"detail":"No timebin parameter."}`},
		{"timeout", New(Timeout, "query_timeout", "The request took too long"), 504,
			`{"error":"query_timeout","message":"The request took too long"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if got := Write(rec, tt.err); got != tt.wantStatus {
				t.Errorf("Write returned %d, want %d", got, tt.wantStatus)
			}
			if rec.Code != tt.wantStatus {
				t.Errorf("status %d, want %d", rec.Code, tt.wantStatus)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var got, want any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q is not JSON: %v", rec.Body, err)
			}
			_ = json.Unmarshal([]byte(tt.wantBody), &want)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("body %s, want %s", rec.Body, tt.wantBody)
			}
		})
	}
}

func TestWithDoesNotMutate(t *testing.T) {
	base := New(Invalid, "x", "y")
	_ = base.With("a", 1)
	if base.Fields != nil {
		t.Fatalf("With changed the receiver: %v", base.Fields)
	}
}

func TestFromKeepsCause(t *testing.T) {
	cause := errors.New("root")
	if !errors.Is(From(cause), cause) {
		t.Fatal("From lost the cause")
	}
}
