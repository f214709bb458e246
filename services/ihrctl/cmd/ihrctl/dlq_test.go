package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/ihr-go/ihr/services/ihrctl/internal/dlq"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// deployment is a real ingestion service on a scratch database and NATS
// prefix, and a JetStream client of the same deployment.
type deployment struct {
	db, prefix string
	js         jetstream.JetStream
	// flags point ihrctl at the deployment's NATS.
	flags []string
}

func newDeployment(t *testing.T) *deployment {
	t.Helper()
	db := testkit.NewDB(t)
	env := testkit.ServiceEnv(t, db)
	testkit.StartBinary(t, "ingestion", env) // ready: its streams exist
	nc, err := nats.Connect(env["IHR_NATS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return &deployment{db: db, prefix: env["IHR_NATS_PREFIX"], js: js,
		flags: []string{"--nats-url", env["IHR_NATS_URL"], "--nats-prefix", env["IHR_NATS_PREFIX"]}}
}

func (d *deployment) subject(s string) string { return d.prefix + "." + s }

// publish stores a message on subject (without the prefix) with headers
// given as name, value pairs.
func (d *deployment) publish(t *testing.T, subject, body string, headers ...string) {
	t.Helper()
	m := &nats.Msg{Subject: d.subject(subject), Data: []byte(body), Header: nats.Header{}}
	for i := 0; i < len(headers); i += 2 {
		m.Header.Set(headers[i], headers[i+1])
	}
	if _, err := d.js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

// ihrctlSplit runs ihrctl in-process and returns its stdout and stderr apart.
func ihrctlSplit(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// ok runs ihrctl with the deployment's flags, failing the test on error,
// and returns its stdout.
func (d *deployment) ok(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := ihrctlSplit(t, append(args, d.flags...)...)
	if err != nil {
		t.Fatalf("ihrctl %v: %v\n%s%s", args, err, out, errOut)
	}
	return out
}

// ls returns what dlq ls --json lists.
func (d *deployment) ls(t *testing.T, args ...string) []dlq.Message {
	t.Helper()
	var msgs []dlq.Message
	sc := bufio.NewScanner(strings.NewReader(d.ok(t, append([]string{"dlq", "ls", "--json"}, args...)...)))
	for sc.Scan() {
		var m dlq.Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("dlq ls --json line %q: %v", sc.Text(), err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

const poisonID = "hegemony:4:1796119200:poison:0"

// TestDeadLetters dead-letters a batch for real through the ingestion
// service, then lists, shows, replays and purges dead letters.
func TestDeadLetters(t *testing.T) {
	t.Parallel()
	d := newDeployment(t)
	d.publish(t, "ihr.ingest.hegemony.rows", `{"schema":"ihr.rows/v0","rows":[]}`, jetstream.MsgIDHeader, poisonID)
	testkit.Eventually(t, "the poison batch in the DLQ", func() bool { return len(d.ls(t)) == 1 })
	// Another consumer's dead letter, to tell datasets apart.
	d.publish(t, "ihr.dlq.ingest", `not json`, events.HeaderSubject, d.subject("ihr.ingest.atlas_delay.rows"),
		events.HeaderError, "synthetic", events.HeaderMsgID, "atlas_delay:4:1796119200:x:0")

	t.Run("ls", func(t *testing.T) {
		msgs := d.ls(t)
		if len(msgs) != 2 {
			t.Fatalf("listed %+v, want 2 dead letters", msgs)
		}
		p, a := msgs[0], msgs[1]
		if p.Seq == 0 || p.Seq >= a.Seq || p.Subject != d.subject("ihr.ingest.hegemony.rows") || p.Dataset != "hegemony" ||
			p.MsgID != poisonID || !strings.Contains(p.Reason, "unknown schema") || p.SourceSeq == 0 || time.Since(p.Time) > time.Minute {
			t.Errorf("poison batch listed as %+v", p)
		}
		if a.Dataset != "atlas_delay" || a.Reason != "synthetic" {
			t.Errorf("synthetic dead letter listed as %+v", a)
		}
		if got := d.ls(t, "--dataset", "atlas_delay"); len(got) != 1 || got[0].Seq != a.Seq {
			t.Errorf("--dataset atlas_delay listed %+v", got)
		}
		if _, errOut, _ := ihrctlSplit(t, append([]string{"dlq", "ls", "--limit", "1"}, d.flags...)...); !strings.Contains(errOut, "--limit 0") {
			t.Errorf("--limit 1 of 2 does not say some were left out: %q", errOut)
		}
		if got := d.ls(t, "--limit", "1"); len(got) != 1 || got[0].Seq != p.Seq {
			t.Errorf("--limit 1 listed %+v, want the oldest", got)
		}
		table := d.ok(t, "dlq", "ls")
		for _, want := range []string{"SEQ", "REASON", poisonID, "unknown schema", "atlas_delay", d.subject("ihr.ingest.hegemony.rows")} {
			if !strings.Contains(table, want) {
				t.Errorf("table lacks %q:\n%s", want, table)
			}
		}
	})

	p := d.ls(t)[0]
	t.Run("show", func(t *testing.T) {
		out := d.ok(t, "dlq", "show", strconv.FormatUint(p.Seq, 10))
		for _, want := range []string{"Ihr-Error: invalid message", "Ihr-Msg-Id: " + poisonID, "dataset: hegemony",
			"Ihr-Stream-Seq: ", "{\n  \"schema\": \"ihr.rows/v0\",\n  \"rows\": []\n}\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("show lacks %q:\n%s", want, out)
			}
		}
		if out := d.ok(t, "dlq", "show", strconv.FormatUint(p.Seq+1, 10)); !strings.Contains(out, "body (8 bytes):\nnot json\n") {
			t.Errorf("a body that is not JSON:\n%s", out)
		}
	})

	t.Run("replay", func(t *testing.T) {
		out := d.ok(t, "dlq", "replay", "--dataset", "hegemony")
		if !strings.Contains(out, "replayed 1 dead letter") {
			t.Fatalf("replay said %q", out)
		}
		s, err := d.js.Stream(context.Background(), d.prefix+"_IHR_INGEST")
		if err != nil {
			t.Fatal(err)
		}
		m, err := s.GetLastMsgForSubject(context.Background(), p.Subject)
		if err != nil || m.Header.Get(jetstream.MsgIDHeader) != dlq.ReplayID(p) || !strings.Contains(string(m.Data), "ihr.rows/v0") {
			t.Fatalf("the replay on %s: %+v %v", p.Subject, m, err)
		}
		if _, _, err := ihrctlSplit(t, append([]string{"dlq", "show", strconv.FormatUint(p.Seq, 10)}, d.flags...)...); err == nil || !strings.Contains(err.Error(), "no such dead letter") {
			t.Errorf("the replayed dead letter is still shown: %v", err)
		}
		// Nothing was fixed: the replay is dead-lettered again, under its new id.
		testkit.Eventually(t, "the replay dead-lettered again", func() bool {
			got := d.ls(t, "--dataset", "hegemony")
			return len(got) == 1 && got[0].MsgID == dlq.ReplayID(p) && got[0].Seq > p.Seq
		})
	})

	t.Run("purge", func(t *testing.T) {
		if _, _, err := ihrctlSplit(t, append([]string{"dlq", "purge"}, d.flags...)...); err == nil || !strings.Contains(err.Error(), "--yes") {
			t.Errorf("purge without --yes: %v", err)
		}
		if n := len(d.ls(t)); n != 2 {
			t.Fatalf("%d dead letters after a refused purge, want 2", n)
		}
		again := d.ls(t, "--dataset", "hegemony")[0]
		if out := d.ok(t, "dlq", "purge", strconv.FormatUint(again.Seq, 10), "--yes"); !strings.Contains(out, "purged 1 dead letter") {
			t.Errorf("purge by id said %q", out)
		}
		if got := d.ls(t); len(got) != 1 || got[0].Dataset != "atlas_delay" {
			t.Fatalf("after purging the hegemony dead letter: %+v", got)
		}
		d.publish(t, "ihr.dlq.ingest", `{}`, events.HeaderSubject, d.subject("ihr.ingest.disco.events"), events.HeaderError, "synthetic")
		if out := d.ok(t, "dlq", "purge", "--dataset", "atlas_delay", "--yes"); !strings.Contains(out, "purged 1 dead letter") {
			t.Errorf("purge --dataset said %q", out)
		}
		if got := d.ls(t); len(got) != 1 || got[0].Dataset != "disco" {
			t.Fatalf("after purging atlas_delay: %+v", got)
		}
		if out := d.ok(t, "dlq", "purge", "--yes"); !strings.Contains(out, "purged 1 dead letter") {
			t.Errorf("purge all said %q", out)
		}
		if out := d.ok(t, "dlq", "ls"); !strings.Contains(out, "no dead letters") {
			t.Errorf("after purging all:\n%s", out)
		}
	})
}

func TestDLQRefusesBadArguments(t *testing.T) {
	url, prefix := testkit.NATSURL(t), testkit.NATSPrefix(t)
	flags := []string{"--nats-url", url, "--nats-prefix", prefix}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"dlq", "show"}, "one DLQ sequence"},
		{[]string{"dlq", "show", "x"}, "not a DLQ sequence"},
		{[]string{"dlq", "show", "1"}, "no such dead letter"},
		{[]string{"dlq", "replay", "--dataset", "hegemony", "1"}, "not both"},
		{[]string{"dlq", "purge", "0", "--yes"}, "not a DLQ sequence"},
		{[]string{"dlq", "ls", "extra"}, "unexpected arguments"},
		{[]string{"dlq", "nope"}, "unknown command"},
		{[]string{"ingest", "status", "extra"}, "unexpected arguments"},
	} {
		if _, _, err := ihrctlSplit(t, append(tt.args, flags...)...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want an error saying %q", tt.args, err, tt.want)
		}
	}
	if _, _, err := ihrctlSplit(t, "dlq", "ls", "--nats-url", "nats://127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "NATS is not reachable at nats://127.0.0.1:1") {
		t.Errorf("without a server: %v", err)
	}
	if _, _, err := ihrctlSplit(t, "dlq", "ls", "--nats-url", url, "--nats-prefix", "a.b"); err == nil || !strings.Contains(err.Error(), "IHR_NATS_PREFIX") {
		t.Errorf("a prefix with a dot: %v", err)
	}
	for _, args := range [][]string{{"dlq"}, {"dlq", "ls", "-h"}, {"dlq", "purge", "--help"}, {"ingest"}, {"ingest", "status", "-h"}} {
		out, errOut, err := ihrctlSplit(t, args...)
		if err != nil || !strings.Contains(out+errOut, "Usage: ihrctl") {
			t.Errorf("%v: %v\n%s%s", args, err, out, errOut)
		}
	}
}
