package mail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// rig is one test's NATS namespace, SMTP server and instruments.
type rig struct {
	t      *testing.T
	bus    *natsx.Bus
	smtp   *testkit.SMTPServer
	queue  *Queue
	logs   *testkit.Buffer
	reader *sdkmetric.ManualReader
	meters *sdkmetric.MeterProvider
}

func newRig(t *testing.T, opts ...testkit.SMTPOption) *rig {
	t.Helper()
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	bus, err := natsx.Connect(ctx, config.NATS{URL: testkit.NATSURL(t), Prefix: testkit.NATSPrefix(t)}, false,
		"mail-test", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bus.Close)
	if err := bus.EnsureStreams(ctx); err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewManualReader()
	return &rig{t: t, bus: bus, smtp: testkit.SMTP(t, opts...), queue: &Queue{Bus: bus}, logs: &testkit.Buffer{},
		reader: reader, meters: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))}
}

// config is a Config for r's SMTP server, with short retry delays.
func (r *rig) config() Config {
	return Config{URL: r.smtp.URL(), From: DefaultFrom, Workers: 2, AckWait: 5 * time.Second, Timeout: 5 * time.Second,
		BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond, RetryFor: time.Hour, TLS: r.smtp.ClientTLS()}
}

// run starts a Sender; stop cancels it and waits for Run to return (also
// at cleanup).
func (r *rig) run(cfg Config, dev bool) (s *Sender, stop func()) {
	r.t.Helper()
	s, err := NewSender(cfg, r.bus, Options{Log: slog.New(slog.NewJSONHandler(r.logs, nil)), Meter: r.meters.Meter("test"), Dev: dev})
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stopped := false
	stop = func() {
		r.t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				r.t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			r.t.Fatal("Run did not return within 15s of its context's end")
		}
	}
	r.t.Cleanup(stop)
	return s, stop
}

func (r *rig) enqueue(t Task) string {
	r.t.Helper()
	id, err := r.queue.Enqueue(context.Background(), t)
	if err != nil {
		r.t.Fatal(err)
	}
	return id
}

func (r *rig) stream(name string) jetstream.StreamState {
	r.t.Helper()
	s, err := r.bus.JS.Stream(context.Background(), r.bus.StreamName(name))
	if err != nil {
		r.t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return info.State
}

// drained waits until every task was acknowledged or terminated: a work
// queue forgets those, so nothing can come back.
func (r *rig) drained() {
	r.t.Helper()
	testkit.Eventually(r.t, "the task queue to be empty", func() bool { return r.stream(natsx.StreamTasks).Msgs == 0 })
}

// deadLetters waits for n dead letters and returns them.
func (r *rig) deadLetters(n int) []*jetstream.RawStreamMsg {
	r.t.Helper()
	testkit.Eventually(r.t, fmt.Sprintf("%d dead letters", n), func() bool { return r.stream(natsx.StreamDLQ).Msgs >= uint64(n) })
	s, _ := r.bus.JS.Stream(context.Background(), r.bus.StreamName(natsx.StreamDLQ))
	var out []*jetstream.RawStreamMsg
	for seq := uint64(1); len(out) < n; seq++ {
		m, err := s.GetMsg(context.Background(), seq)
		if err != nil {
			r.t.Fatal(err)
		}
		out = append(out, m)
	}
	if got := r.stream(natsx.StreamDLQ).Msgs; got != uint64(n) {
		r.t.Errorf("%d dead letters, want %d", got, n)
	}
	return out
}

// count is how many tasks ended with outcome, by ihr_mail_tasks.
func (r *rig) count(outcome string) int64 {
	r.t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		r.t.Fatal(err)
	}
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "ihr_mail_tasks" {
				for _, dp := range sum.DataPoints {
					if v, _ := dp.Attributes.Value("outcome"); v.AsString() == outcome {
						n += dp.Value
					}
				}
			}
		}
	}
	return n
}

func to(addr string) func(testkit.Mail) bool {
	return func(m testkit.Mail) bool { return len(m.To) == 1 && m.To[0] == addr }
}

func TestDeliversOnceWithHeadersAndBody(t *testing.T) {
	r := newRig(t)
	task := Task{Kind: KindResetPassword, To: "Renée Dupont <renee@example.org>",
		Subject: "Réinitialisez votre mot de passe IHR", Text: body}
	id := r.enqueue(task)
	r.run(r.config(), false)

	m := r.smtp.WaitFor(t, to("renee@example.org"))
	if m.From != "no-reply@ihr.live" || m.Auth != "" {
		t.Errorf("envelope from %q, auth %q", m.From, m.Auth)
	}
	if m.Subject != task.Subject || m.Text != body {
		t.Errorf("subject %q, text\n%q\nwant\n%q", m.Subject, m.Text, body)
	}
	h := m.Header
	if h.Get("Message-Id") != "<"+id+"@ihr.live>" || h.Get("Content-Type") != "text/plain; charset=utf-8" ||
		h.Get("Content-Transfer-Encoding") != "quoted-printable" || h.Get("Mime-Version") != "1.0" {
		t.Errorf("headers %v", h)
	}
	if d, err := h.Date(); err != nil || time.Since(d) > time.Minute {
		t.Errorf("Date %q: %v", h.Get("Date"), err)
	}
	if a, err := h.AddressList("To"); err != nil || a[0].Name != "Renée Dupont" {
		t.Errorf("To %q: %v", h.Get("To"), err)
	}
	if !strings.Contains(string(m.Data), "\r\n.leading dot\r\n") && !strings.Contains(string(m.Data), "\r\n=2Eleading dot\r\n") {
		t.Errorf("the leading dot line did not survive:\n%s", m.Data)
	}
	r.drained()
	if n := len(r.smtp.Messages()); n != 1 {
		t.Errorf("%d mails sent, want 1", n)
	}
	if n := r.count(outcomeSent); n != 1 {
		t.Errorf("ihr_mail_tasks{outcome=sent} = %d", n)
	}
	logs := r.logs.String()
	if !strings.Contains(logs, `"msg":"mail sent"`) || !strings.Contains(logs, "r***@example.org") {
		t.Errorf("no masked 'mail sent' log:\n%s", logs)
	}
	if strings.Contains(logs, "renee@") || strings.Contains(logs, "Bonjour") {
		t.Errorf("logs show the address or the body outside dev mode:\n%s", logs)
	}
}

func TestAuthenticatesWithTheURLCredentials(t *testing.T) {
	r := newRig(t, testkit.SMTPAuth("ihr", "s3cret"))
	cfg := r.config()
	cfg.URL = strings.Replace(cfg.URL, "s3cret", "wrong", 1)
	_, stop := r.run(cfg, false)
	r.enqueue(Task{Kind: KindConfirmEmail, To: "jane@example.org", Subject: "Confirm", Text: "Code: 123456"})
	// A refused AUTH is our configuration's fault, not the mail's: retried, never dead-lettered.
	testkit.Eventually(t, "retries with the wrong password", func() bool { return r.count(outcomeRetried) >= 2 })
	stop()
	if n := r.stream(natsx.StreamDLQ).Msgs; n != 0 || r.smtp.Count("MAIL") != 0 {
		t.Fatalf("wrong password: %d dead letters, %d MAIL commands", n, r.smtp.Count("MAIL"))
	}

	r.run(r.config(), false)
	m := r.smtp.WaitFor(t, to("jane@example.org"))
	if m.Auth != "ihr" || m.Code() != "123456" {
		t.Errorf("auth %q, code %q", m.Auth, m.Code())
	}
	r.drained()
}

func TestTransientFailuresAreRetried(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		stage string
		code  int
	}{{"CONNECT", 421}, {"EHLO", 421}, {"MAIL", 451}, {"RCPT", 450}, {"DATA", 451}, {".", 451}} {
		t.Run(tc.stage, func(t *testing.T) {
			r := newRig(t)
			r.smtp.FailNext(tc.stage, 2, tc.code, "4.3.0 try again later")
			r.run(r.config(), false)
			r.enqueue(Task{Kind: KindAlert, To: "noc@example.net", Subject: "AS64500", Text: "down"})
			r.smtp.WaitFor(t, to("noc@example.net"))
			r.drained()
			if n := len(r.smtp.Messages()); n != 1 {
				t.Errorf("%d mails, want 1", n)
			}
			if n := r.smtp.Count(tc.stage); n != 3 {
				t.Errorf("%s received %d times, want 3", tc.stage, n)
			}
			if n := r.count(outcomeRetried); n != 2 {
				t.Errorf("retried %d times, want 2", n)
			}
			if n := r.stream(natsx.StreamDLQ).Msgs; n != 0 {
				t.Errorf("%d dead letters", n)
			}
		})
	}
}

func TestPermanentRefusalIsDeadLettered(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ stage, answer string }{
		{"RCPT", "5.1.1 <gone@example.org>: Recipient address rejected"},
		{".", "5.7.1 Message rejected as spam"},
	} {
		t.Run(tc.stage, func(t *testing.T) {
			r := newRig(t)
			r.smtp.FailNext(tc.stage, 1, 550, tc.answer)
			r.run(r.config(), false)
			id := r.enqueue(Task{Kind: KindAlert, To: "gone@example.org", Subject: "AS64500", Text: "down"})
			dl := r.deadLetters(1)[0]
			if reason := dl.Header.Get(events.HeaderError); !strings.Contains(reason, "550") || !strings.Contains(reason, tc.stage) {
				t.Errorf("reason %q", reason)
			}
			if dl.Subject != r.bus.Subject(DLQSubject) || dl.Header.Get(events.HeaderSubject) != r.bus.Subject(TaskSubject) ||
				dl.Header.Get(events.HeaderMsgID) != id || dl.Header.Get(events.HeaderSeq) != "1" {
				t.Errorf("dead letter on %s with headers %v", dl.Subject, dl.Header)
			}
			if task, err := Decode(dl.Data); err != nil || task.ID != id {
				t.Errorf("dead letter holds %s (%v)", dl.Data, err)
			}
			r.drained() // terminated: never retried
			if n := r.smtp.Count(tc.stage); n != 1 {
				t.Errorf("%s received %d times, want 1", tc.stage, n)
			}
			if n := len(r.smtp.Messages()); n != 0 {
				t.Errorf("%d mails sent", n)
			}
			if r.count(outcomeDeadLettered) != 1 || r.count(outcomeRetried) != 0 {
				t.Errorf("dead_lettered %d, retried %d", r.count(outcomeDeadLettered), r.count(outcomeRetried))
			}
			if strings.Contains(r.logs.String(), "gone@") {
				t.Errorf("the server's answer was logged with the address:\n%s", r.logs.String())
			}
		})
	}
}

func TestServerDownThenBack(t *testing.T) {
	r := newRig(t)
	r.smtp.Down()
	r.run(r.config(), false)
	addrs := []string{"a@example.org", "b@example.org", "c@example.org"}
	for _, a := range addrs {
		r.enqueue(Task{Kind: KindAlert, To: a, Subject: "digest", Text: "AS64500 is down"})
	}
	testkit.Eventually(t, "every task to fail at least once", func() bool { return r.count(outcomeRetried) >= int64(2*len(addrs)) })
	if err := r.smtp.Up(); err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		r.smtp.WaitFor(t, to(a))
	}
	r.drained()
	if n := len(r.smtp.Messages()); n != len(addrs) {
		t.Errorf("%d mails, want %d", n, len(addrs))
	}
	if n := r.stream(natsx.StreamDLQ).Msgs; n != 0 {
		t.Errorf("%d dead letters after an outage", n)
	}
}

func TestInvalidTasksAreNeverSent(t *testing.T) {
	r := newRig(t)
	ok := Task{Kind: KindAlert, To: "noc@example.net", Subject: "AS64500", Text: "down"}
	bad := ok
	bad.Subject = "AS64500\r\nBcc: everyone@example.org"
	if _, err := r.queue.Enqueue(context.Background(), bad); !events.IsInvalid(err) {
		t.Errorf("Enqueue of a CR/LF subject: %v", err)
	}
	bad = ok
	bad.To = "noc@example.net>, <everyone@example.org"
	if _, err := r.queue.Enqueue(context.Background(), bad); !events.IsInvalid(err) {
		t.Errorf("Enqueue of an invalid address: %v", err)
	}
	if n := r.stream(natsx.StreamTasks).LastSeq; n != 0 {
		t.Fatalf("refused tasks were published (last seq %d)", n)
	}

	// Other producers: the Sender checks again.
	raw := []string{
		`{"schema":"ihr.tasks.email/v1","id":"x1","kind":"alert","to":"noc@example.net","subject":"AS64500\r\nBcc: everyone@example.org","text":"down"}`,
		`{"schema":"ihr.tasks.email/v1","id":"x2","kind":"alert","to":"not an address","subject":"AS64500","text":"down"}`,
		`{"schema":"ihr.tasks.email/v1","id":"x3","kind":"alert","to":"noc@example.net","subject":"AS64500","text":"down","bcc":"everyone@example.org"}`,
		`{"schema":"ihr.tasks.email/v9","id":"x4","kind":"alert","to":"noc@example.net","subject":"AS64500","text":"down"}`,
		`subject: AS64500`,
	}
	for i, data := range raw {
		msg := &nats.Msg{Subject: r.bus.Subject(TaskSubject), Data: []byte(data), Header: nats.Header{}}
		msg.Header.Set(jetstream.MsgIDHeader, fmt.Sprint("raw", i))
		if _, err := r.bus.JS.PublishMsg(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	r.run(r.config(), false)
	reasons := map[string]string{}
	for _, dl := range r.deadLetters(len(raw)) {
		reasons[dl.Header.Get(events.HeaderMsgID)] = dl.Header.Get(events.HeaderError)
	}
	for i, want := range []string{"header injection", "not an address", "unknown field", "schema", "not a task"} {
		if reason := reasons[fmt.Sprint("raw", i)]; !strings.Contains(reason, want) {
			t.Errorf("task %d: reason %q, want %q", i, reason, want)
		}
	}
	r.drained()
	if r.smtp.Count("CONNECT") != 0 || len(r.smtp.Messages()) != 0 {
		t.Errorf("invalid tasks reached the SMTP server: %d connections", r.smtp.Count("CONNECT"))
	}
}

func TestDevModeLogsTheMailAndAcks(t *testing.T) {
	r := newRig(t)
	s, _ := r.run(Config{From: DefaultFrom, Workers: 1, AckWait: 5 * time.Second}, true)
	if err := s.Probe(context.Background()); err != nil {
		t.Errorf("Probe without an SMTP server in dev mode: %v", err)
	}
	r.enqueue(Task{Kind: KindConfirmEmail, To: "dev@example.org", Subject: "Confirm your IHR account",
		Text: "Open http://localhost:8080/confirm?code=abc"})
	r.drained()
	logs := r.logs.String()
	for _, want := range []string{"dev mode", "dev@example.org", "Confirm your IHR account", "http://localhost:8080/confirm?code=abc"} {
		if !strings.Contains(logs, want) {
			t.Errorf("dev log lacks %q:\n%s", want, logs)
		}
	}
	if r.count(outcomeLogged) != 1 || r.smtp.Count("CONNECT") != 0 {
		t.Errorf("logged %d, SMTP connections %d", r.count(outcomeLogged), r.smtp.Count("CONNECT"))
	}
}

func TestSameIDTwiceSendsOnce(t *testing.T) {
	r := newRig(t)
	task := Task{ID: "reset:01JEXAMPLE", Kind: KindResetPassword, To: "jane@example.org", Subject: "Reset", Text: "Code: 654321"}
	r.enqueue(task)
	r.enqueue(task) // a retried publish
	if st := r.stream(natsx.StreamTasks); st.Msgs != 1 || st.LastSeq != 1 {
		t.Fatalf("the stream holds %d tasks (last seq %d), want 1", st.Msgs, st.LastSeq)
	}
	r.run(r.config(), false)
	r.smtp.WaitFor(t, to("jane@example.org"))
	r.drained()
	r.enqueue(task) // again, after the mail went out, within the de-duplication window
	if st := r.stream(natsx.StreamTasks); st.LastSeq != 1 {
		t.Errorf("the task was stored again after it was sent (last seq %d)", st.LastSeq)
	}
	if n := len(r.smtp.Messages()); n != 1 {
		t.Errorf("%d mails, want 1", n)
	}
}

func TestTLS(t *testing.T) {
	t.Run("STARTTLS when offered", func(t *testing.T) {
		r := newRig(t, testkit.SMTPStartTLS(), testkit.SMTPAuth("ihr", "s3cret"))
		cfg := r.config()
		cfg.URL += "?starttls=required"
		r.run(cfg, false)
		r.enqueue(Task{Kind: KindAlert, To: "noc@example.net", Subject: "AS64500", Text: "down"})
		if m := r.smtp.WaitFor(t, to("noc@example.net")); !m.TLS || m.Auth != "ihr" {
			t.Errorf("tls %v, auth %q", m.TLS, m.Auth)
		}
	})
	t.Run("starttls=required refuses plain text", func(t *testing.T) {
		r := newRig(t)
		cfg := r.config()
		cfg.URL += "?starttls=required"
		r.run(cfg, false)
		r.enqueue(Task{Kind: KindAlert, To: "noc@example.net", Subject: "AS64500", Text: "down"})
		testkit.Eventually(t, "retries", func() bool { return r.count(outcomeRetried) >= 2 })
		if r.smtp.Count("MAIL") != 0 || r.stream(natsx.StreamDLQ).Msgs != 0 {
			t.Errorf("MAIL %d times, %d dead letters", r.smtp.Count("MAIL"), r.stream(natsx.StreamDLQ).Msgs)
		}
	})
	t.Run("smtps", func(t *testing.T) {
		r := newRig(t, testkit.SMTPImplicitTLS())
		s, _ := r.run(r.config(), false)
		if err := s.Probe(context.Background()); err != nil {
			t.Errorf("Probe: %v", err)
		}
		r.enqueue(Task{Kind: KindAlert, To: "noc@example.net", Subject: "AS64500", Text: "down"})
		if m := r.smtp.WaitFor(t, to("noc@example.net")); !m.TLS {
			t.Error("not sent over TLS")
		}
	})
}

func TestProbe(t *testing.T) {
	r := newRig(t)
	s, err := NewSender(r.config(), r.bus, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Probe(context.Background()); err != nil {
		t.Fatalf("server up: %v", err)
	}
	if r.smtp.Count("EHLO") != 1 || r.smtp.Count("QUIT") != 1 || r.smtp.Count("MAIL") != 0 {
		t.Errorf("probe sent EHLO %d, QUIT %d, MAIL %d times", r.smtp.Count("EHLO"), r.smtp.Count("QUIT"), r.smtp.Count("MAIL"))
	}
	r.smtp.Down()
	if err := s.Probe(context.Background()); err == nil {
		t.Fatal("server down: no error")
	}
	r.smtp.FailNext("CONNECT", 1, 421, "4.3.2 busy")
	if err := r.smtp.Up(); err != nil {
		t.Fatal(err)
	}
	if err := s.Probe(context.Background()); err == nil {
		t.Fatal("server busy: no error")
	}
	// A server that accepts and never greets: the probe keeps to its context's deadline.
	r.smtp.Hold("CONNECT")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := s.Probe(ctx); err == nil || time.Since(start) > 3*time.Second {
		t.Fatalf("silent server: %v after %s", err, time.Since(start))
	}
}

func TestShutdownFinishesTheMailInHand(t *testing.T) {
	r := newRig(t)
	release := r.smtp.Hold(".")
	s, err := NewSender(r.config(), r.bus, Options{Log: slog.New(slog.NewJSONHandler(r.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	r.enqueue(Task{Kind: KindAlert, To: "noc@example.net", Subject: "AS64500", Text: "down"})
	testkit.Eventually(t, "the mail to be in hand", func() bool { return r.smtp.Count(".") == 1 })
	cancel()
	select {
	case <-done:
		t.Fatal("Run returned with a mail in hand")
	default:
	}
	release() // the server accepts the mail only after the Sender was told to stop
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return")
	}
	r.drained() // acknowledged before Run returned
	if n := len(r.smtp.Messages()); n != 1 {
		t.Errorf("%d mails, want 1", n)
	}
}

func TestWithoutSMTPOutsideDevMailsWait(t *testing.T) {
	r := newRig(t)
	s, _ := r.run(Config{}, false)
	if err := s.Probe(context.Background()); err == nil || !strings.Contains(err.Error(), "IHR_SMTP_URL") {
		t.Errorf("Probe: %v, want the missing IHR_SMTP_URL", err)
	}
	r.enqueue(Task{Kind: KindAlert, To: "noc@example.net", Subject: "AS64500", Text: "down"})
	testkit.Eventually(t, "the warning", func() bool { return strings.Contains(r.logs.String(), "not sending mail") })
	if _, err := r.bus.JS.Consumer(context.Background(), r.bus.StreamName(natsx.StreamTasks), Durable); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Errorf("the consumer exists (%v): tasks would be taken", err)
	}
	if n := r.stream(natsx.StreamTasks).Msgs; n != 1 {
		t.Errorf("%d tasks queued, want 1", n)
	}
	if strings.Contains(r.logs.String(), "noc@") {
		t.Errorf("the address was logged outside dev mode:\n%s", r.logs.String())
	}
}

// A task that comes back after its mail was sent (its acknowledgement
// lost; here, the same task under another Nats-Msg-Id) is acknowledged
// without a second mail.
func TestSentTaskComingBackIsNotSentAgain(t *testing.T) {
	r := newRig(t)
	data, _ := json.Marshal(Task{Schema: Schema, ID: "alert:42", Kind: KindAlert, To: "noc@example.net", Subject: "AS64500", Text: "down"})
	for _, msgID := range []string{"alert:42", "alert:42:again"} {
		msg := &nats.Msg{Subject: r.bus.Subject(TaskSubject), Data: data, Header: nats.Header{jetstream.MsgIDHeader: {msgID}}}
		if _, err := r.bus.JS.PublishMsg(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	cfg := r.config()
	cfg.Workers = 1
	r.run(cfg, false)
	r.drained()
	if n := len(r.smtp.Messages()); n != 1 {
		t.Errorf("%d mails, want 1", n)
	}
	if r.count(outcomeSent) != 1 || r.count(outcomeDuplicate) != 1 {
		t.Errorf("sent %d, duplicate %d", r.count(outcomeSent), r.count(outcomeDuplicate))
	}
}
