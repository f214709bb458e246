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

func TestRouter(t *testing.T) {
	queued := []int{0, 0}
	r := newRouter(2, func(i int) int { return queued[i] })
	a := r.route("hegemony:4:100:run:0")
	queued[a] = 5
	b := r.route("hegemony:4:200:run:0")
	if a == b {
		t.Fatalf("a new bin went to the busy worker %d", a)
	}
	queued[b] = 9
	for _, id := range []string{"hegemony:4:100:run:1", "hegemony:4:100:run:complete", "hegemony:4:100:rerun:0"} {
		if w := r.route(id); w != a {
			t.Errorf("%s went to worker %d while its bin is in hand at %d", id, w, a)
		}
	}
	for _, id := range []string{"hegemony:4:100:run:0", "hegemony:4:100:run:1", "hegemony:4:100:run:complete", "hegemony:4:100:rerun:0"} {
		r.done(id)
	}
	if _, kept := r.bins["hegemony:4:100:"]; kept {
		t.Error("the bin is still routed with nothing in hand")
	}
	queued[a], queued[b] = 9, 0
	if w := r.route("hegemony:4:100:rerun2:0"); w != b {
		t.Errorf("a bin with nothing in hand went to worker %d, not the idle %d", w, b)
	}
	if k := binKey("metis_selection/rtt:4:100:run:3"); k != "metis_selection/rtt:4:100:" {
		t.Errorf("binKey %q", k)
	}
}
