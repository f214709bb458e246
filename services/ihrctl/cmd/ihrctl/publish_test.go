package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestPublishDemo(t *testing.T) {
	url, prefix := testkit.NATSURL(t), testkit.NATSPrefix(t)
	out, err := ihrctl(t, "publish", "hegemony", "--nats-url", url, "--nats-prefix", prefix, "--demo", "--bins", "2", "--origins", "10", "--start", "2026-12-01T00:00:00Z")
	if err != nil || !strings.Contains(out, "published 2 bins, 80 rows, 4 messages") {
		t.Fatalf("%v\n%s", err, out)
	}

	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	s, err := js.Stream(context.Background(), prefix+"_IHR_INGEST")
	if err != nil {
		t.Fatal(err)
	}
	info, _ := s.Info(context.Background())
	if info.State.Msgs != 4 {
		t.Errorf("ingest stream holds %d messages, want 4 (2 bins of one batch and a bin message)", info.State.Msgs)
	}
	m, err := s.GetLastMsgForSubject(context.Background(), prefix+".ihr.ingest.hegemony.bin")
	if err != nil || !strings.HasSuffix(m.Header.Get("Nats-Msg-Id"), ":complete") {
		t.Errorf("bin message id %q (%v)", m.Header.Get("Nats-Msg-Id"), err)
	}
}

func TestPublishRefusesBadInput(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("timebin,asn,hege\n2024-05-01 00:00:00+00,1,1\n"), 0o644)
	for _, args := range [][]string{
		{"publish"},
		{"publish", "hegemony"},
		{"publish", "hegemony", "--from", bad},
		{"publish", "hegemony", "--demo", "--bins", "0"},
	} {
		if _, err := ihrctl(t, args...); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
