package freshness

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// barrierRig is a barrier following announcements on a subject of its own,
// and a publisher that announces as ingestion does.
type barrierRig struct {
	t       *testing.T
	subject string
	pub     *nats.Conn
	log     *Log
	b       *barrier
}

func newBarrierRig(t *testing.T) *barrierRig {
	url := testkit.NATSURL(t)
	connect := func() *nats.Conn {
		nc, err := nats.Connect(url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	r := &barrierRig{t: t, subject: testkit.Prefix(t) + ".ihr.announce.hegemony", pub: connect(), log: NewLog(1000)}
	follower := connect()
	r.b = newBarrier(follower, r.log)
	if _, err := follower.ChanSubscribe(r.subject, r.b.in); err != nil {
		t.Fatal(err)
	}
	if err := follower.Flush(); err != nil {
		t.Fatal(err)
	}
	return r
}

// announce announces run id and returns once a client may know of its
// event: the server took the announcement, and the lead has passed.
func (r *barrierRig) announce(id string) {
	data, err := json.Marshal(events.Result{Schema: events.SchemaResults, Bin: events.Bin{Dataset: "hegemony", AF: 4,
		Timebin: time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC), BinSeconds: 900, RunID: id}})
	if err != nil {
		r.t.Fatal(err)
	}
	m := &nats.Msg{Subject: r.subject, Data: data, Header: nats.Header{}}
	m.Header.Set(jetstream.MsgIDHeader, id)
	if err := r.pub.PublishMsg(m); err != nil {
		r.t.Fatal(err)
	}
	if err := r.pub.Flush(); err != nil {
		r.t.Fatal(err)
	}
	<-time.After(events.AnnounceLead) // the publisher's side of the contract, as ingestion waits
}

// known reports whether the log holds the announcement of run id.
func (r *barrierRig) known(id string) bool {
	r.log.mu.RLock()
	defer r.log.mu.RUnlock()
	_, ok := r.log.announced["hegemony"][id]
	return ok
}

func (r *barrierRig) mustSync(id string) {
	r.t.Helper()
	if !r.b.wait(context.Background()) {
		r.t.Fatalf("%s: the barrier could not tell", id)
	}
	if !r.known(id) {
		r.t.Fatalf("%s: announced a lead before the read, not known after the barrier", id)
	}
}

// While reads keep coming, reads are covered by the PINGs of the pinger;
// each one still knows every announcement made a lead before it.
func TestBarrierKnowsWhatWasAnnouncedALeadBefore(t *testing.T) {
	r := newBarrierRig(t)
	ctx, cancel := context.WithCancel(context.Background())
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for ctx.Err() == nil {
				r.b.wait(ctx)
			}
		})
	}
	defer func() { cancel(); readers.Wait() }()
	rounds := 40
	if testing.Short() {
		rounds = 10
	}
	for i := range rounds {
		id := "busy-" + strconv.Itoa(i)
		r.announce(id)
		r.mustSync(id)
	}
}

// Once reads stop, the pings stop too: the next read is covered by no
// recent PING and waits for one of its own.
func TestBarrierAfterIdleWaitsForARoundTrip(t *testing.T) {
	r := newBarrierRig(t)
	r.announce("first")
	r.mustSync("first")
	testkit.Eventually(t, "the pings stop after a second without reads", func() bool { return !r.b.running.Load() })
	r.announce("after-idle")
	r.mustSync("after-idle")
}

// Without a connection the barrier cannot tell, at once.
func TestBarrierWithoutConnectionCannotTell(t *testing.T) {
	r := newBarrierRig(t)
	r.b.nc.Close()
	done := make(chan bool)
	go func() { done <- r.b.wait(context.Background()) }()
	select {
	case ok := <-done:
		if ok {
			t.Fatal("the barrier said the log was synced over a closed connection")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the barrier waited on a closed connection")
	}
}
