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

func TestPublishDumpAndDemo(t *testing.T) {
	url, prefix := testkit.NATSURL(t), testkit.NATSPrefix(t)
	dump := filepath.Join(t.TempDir(), "ihr_hegemony_ipv4_local_2024-05-01.csv")
	csv := "timebin,originasn,asn,hege\n2024-05-01 00:00:00+00,2497,2497,1.0\n2024-05-01 00:00:00+00,2497,3356,0.25\n2024-05-01 00:15:00+00,2497,2497,1.0\n"
	if err := os.WriteFile(dump, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second time, the same run: JetStream keeps one copy
		out, err := ihrctl(t, "publish", "hegemony", "--nats-url", url, "--nats-prefix", prefix, "--from", dump, "--batch-rows", "1")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if !strings.Contains(out, "published 2 bins, 3 rows, 5 messages") {
			t.Fatalf("output:\n%s", out)
		}
	}
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
	if info.State.Msgs != 9 {
		t.Errorf("ingest stream holds %d messages, want 9 (5 from the dump, stored once, and 4 generated)", info.State.Msgs)
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
		{"publish", "hegemony", "--demo", "--from", bad},
		{"publish", "hegemony", "--from", bad},
		{"publish", "hegemony", "--demo", "--bins", "0"},
	} {
		if _, err := ihrctl(t, args...); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
