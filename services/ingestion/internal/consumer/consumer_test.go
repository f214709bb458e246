package consumer

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestPoison(t *testing.T) {
	for code, want := range map[string]bool{
		"23505": true,  // unique violation: the data is wrong
		"22003": true,  // numeric out of range
		"57014": false, // statement timeout: load
		"08006": false, // connection failure
		"53300": false, // too many connections
		"57P01": false, // server shutting down
		"40P01": false, // deadlock: retry
	} {
		err := fmt.Errorf("commit: %w", &pgconn.PgError{Code: code})
		if got := poison(err); got != want {
			t.Errorf("code %s: poison %v, want %v", code, got, want)
		}
	}
	if poison(errors.New("dial tcp: connection refused")) {
		t.Error("a connection error is an outage, not poison")
	}
}
