package app

import (
	"context"
	"log/slog"
	"testing"

	"github.com/ihr-go/ihr/pkg/apierr"
)

// untouchable is a store any call to which fails the test (a nil Store
// panics): what a request must not do before its answer.
type untouchable struct{ Store }

// Whether an address has an account must not show in the time of the
// answer to a reset request: the request looks nothing up, known address
// or not; the work waits in a bounded queue.
func TestForgotPasswordAnswersBeforeLookingUp(t *testing.T) {
	s := &Service{Store: untouchable{}, Later: NewLater(2), Log: slog.New(slog.DiscardHandler)}
	for _, email := range []string{"known@example.org", "unknown@example.org"} {
		if err := s.ForgotPassword(context.Background(), Actor{}, email); err != nil {
			t.Fatalf("%s: %v", email, err)
		}
	}
	if err := s.ForgotPassword(context.Background(), Actor{}, "third@example.org"); apierr.From(err).Kind != apierr.Unavailable {
		t.Errorf("a reset request with the queue full: %v, want 503", err)
	}
	if err := s.ForgotPassword(context.Background(), Actor{}, "not an address"); apierr.From(err).Kind != apierr.Invalid {
		t.Errorf("a malformed address: %v, want 400", err)
	}
}
