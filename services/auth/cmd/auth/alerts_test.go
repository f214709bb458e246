package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestAlarmAlerts: a results event of an alarm dataset mails each user the
// alarms of networks they monitor at or above their level, once.
func TestAlarmAlerts(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	dana := r.register("dana@example.org", "dana's password 1").Str("access_token")
	r.must(http.StatusOK, "PUT", "/ihr/api/users/me/monitored-asns", dana, map[string]any{"monitored_asns": []map[string]any{
		{"asn": 2497, "notify_level": 5}, {"asn": 3356, "notify_level": 10}}})
	erin := r.register("erin@example.org", "erin's password 1").Str("access_token")
	r.must(http.StatusOK, "PUT", "/ihr/api/users/me/monitored-asns", erin, map[string]any{"monitored_asns": []map[string]any{{"asn": 15169, "notify_level": 0}}})

	bus, err := natsx.Connect(context.Background(), config.NATS{URL: r.env["IHR_NATS_URL"], Prefix: r.env["IHR_NATS_PREFIX"]}, false, "test",
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bus.Close)
	bin := time.Date(2026, 12, 4, 10, 15, 0, 0, time.UTC)
	announce := func(timebin time.Time, run string) {
		t.Helper()
		data, _ := json.Marshal(events.Result{Schema: events.SchemaResults, Bin: events.Bin{Dataset: "hegemony_alarms", AF: 4, Timebin: timebin,
			BinSeconds: 900, RunID: run}, Keys: map[string][]int64{"originasn": {2497}}, CommittedAt: time.Now()})
		m := &nats.Msg{Subject: bus.Subject("ihr.results.hegemony_alarms"), Data: data, Header: nats.Header{}}
		m.Header.Set(jetstream.MsgIDHeader, "result:hegemony_alarms:4:"+timebin.Format(time.RFC3339)+":"+run)
		if _, err := bus.JS.PublishMsg(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Exec(t, r.db, `INSERT INTO ihr_hegemony_alarms (timebin, deviation, af, asn_id, originasn_id) VALUES
		($1, 31.5, 4, 174, 2497),    -- moderate: dana's level for 2497
		($1, -12, 4, 3356, 2497),    -- low: under dana's level for 2497 and 3356
		($1, 55, 4, 2497, 3356),     -- high: both of dana's networks, one line
		($1, 3, 4, 15169, 174),      -- low: erin takes every alarm
		($1, 70, 6, 174, 2497)`, bin) // another af
	// Made before the consumer attached? The consumer starts with the events after it: wait for it.
	testkit.Eventually(t, "the alert consumer", func() bool {
		_, err := bus.JS.Consumer(context.Background(), bus.StreamName(natsx.StreamResults), "auth-alerts")
		return err == nil
	})
	announce(bin, "first")

	m := r.smtp.WaitFor(t, func(m testkit.Mail) bool {
		return m.To[0] == "dana@example.org" && strings.Contains(m.Subject, "alarms")
	})
	if !strings.Contains(m.Subject, "2 new alarms") || !strings.Contains(m.Text, "AS2497 depends differently on AS174 (IPv4) (deviation 31.5)") ||
		!strings.Contains(m.Text, "AS3356 depends differently on AS2497 (IPv4) (deviation 55.0)") || strings.Contains(m.Text, "deviation -12") || strings.Contains(m.Text, "IPv6") {
		t.Errorf("dana's digest %q:\n%s", m.Subject, m.Text)
	}
	r.smtp.WaitFor(t, func(m testkit.Mail) bool {
		return m.To[0] == "erin@example.org" && strings.Contains(m.Text, "AS174 depends differently on AS15169")
	})

	// A re-run of the bin reports the same alarms: nobody is mailed again.
	// A later bin with a new alarm is.
	announce(bin, "rerun")
	later := bin.Add(15 * time.Minute)
	testkit.Exec(t, r.db, `INSERT INTO ihr_hegemony_alarms (timebin, deviation, af, asn_id, originasn_id) VALUES ($1, 25, 4, 3356, 2497)`, later)
	announce(later, "first")
	r.smtp.WaitFor(t, func(m testkit.Mail) bool {
		return m.To[0] == "dana@example.org" && strings.Contains(m.Text, "AS2497 depends differently on AS3356")
	})
	alerts := 0
	for _, m := range r.smtp.Messages() {
		if strings.Contains(m.Subject, "new alarms") {
			alerts++
		}
	}
	if alerts != 3 {
		t.Errorf("%d alert mails, want 3 (dana twice, erin once)", alerts)
	}
}
