package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Options are the Sender's instruments and mode.
type Options struct {
	Log *slog.Logger
	// Meter records ihr_mail_tasks and ihr_mail_send_duration (nil: none).
	Meter metric.Meter
	// Tracer and Propagator trace each task in the trace that queued it (nil: none).
	Tracer     trace.Tracer
	Propagator propagation.TextMapPropagator
	// Dev is the developer machine's mode (IHR_ENV=dev): without an SMTP
	// server, mails are logged whole, recipients and bodies included, and
	// acknowledged; logs show full addresses.
	Dev bool
}

// Sender takes mail tasks from the work queue and sends them.
type Sender struct {
	cfg     Config
	server  *server // nil: log the mails in dev mode, leave them queued elsewhere
	from    *mail.Address
	helo    string
	bus     *natsx.Bus
	log     *slog.Logger
	metrics *metrics
	tracer  trace.Tracer
	prop    propagation.TextMapPropagator
	dev     bool
	sent    *recent
}

// NewSender checks cfg and returns a Sender of bus's tasks. Without an
// SMTP URL, it logs the mails in dev mode; elsewhere it leaves them in the
// queue and its Probe reports the missing server.
func NewSender(cfg Config, bus *natsx.Bus, o Options) (*Sender, error) {
	if cfg.Err != nil {
		return nil, cfg.Err
	}
	cfg = cfg.withDefaults()
	srv, from, err := cfg.parse()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(o.Meter)
	if err != nil {
		return nil, err
	}
	s := &Sender{
		cfg: cfg, server: srv, from: from, bus: bus, log: o.Log, metrics: m,
		tracer: o.Tracer, prop: o.Propagator, dev: o.Dev, sent: newRecent(4096),
		// EHLO names the client; the sending domain is the name we can vouch for.
		helo: from.Address[strings.LastIndexByte(from.Address, '@')+1:],
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.tracer == nil {
		s.tracer = noop.NewTracerProvider().Tracer("")
	}
	return s, nil
}

// Probe is a readiness check: the SMTP server answers a greeting and EHLO.
// Without a server there is nothing to check in dev mode; elsewhere mails
// are waiting.
func (s *Sender) Probe(ctx context.Context) error {
	switch {
	case s.server != nil:
		return s.server.probe(ctx, s.cfg.TLS, s.cfg.Timeout, s.helo)
	case s.dev:
		return nil
	}
	return errNoServer
}

var errNoServer = errors.New("IHR_SMTP_URL is not set: mails wait in the queue")

// Run sends mails until ctx is done, then finishes the mails in hand and
// returns. While NATS or the stream is unavailable it keeps trying to
// attach. Without an SMTP server outside dev mode, it takes no task: they
// wait in the queue (for the stream's MaxAge) until one is configured.
func (s *Sender) Run(ctx context.Context) error {
	if s.server == nil && !s.dev {
		s.log.Warn("not sending mail: "+errNoServer.Error(), "config", s.cfg)
		<-ctx.Done()
		return nil
	}
	cons, ok := s.attach(ctx)
	if !ok {
		return nil
	}
	s.log.Info("sending mail", "durable", Durable, "config", s.cfg)
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Go(func() { s.work(ctx, cons) })
	}
	wg.Wait()
	return nil
}

func (s *Sender) attach(ctx context.Context) (jetstream.Consumer, bool) {
	for delay := time.Second; ; delay = min(2*delay, 30*time.Second) {
		cons, err := s.bus.JS.CreateOrUpdateConsumer(ctx, s.bus.StreamName(natsx.StreamTasks), jetstream.ConsumerConfig{
			Durable:       Durable,
			Description:   "auth: sends the e-mail tasks",
			FilterSubject: s.bus.Subject(TaskSubject),
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       s.cfg.AckWait,
			MaxDeliver:    -1, // the Sender decides when a task is given up: see handle
			MaxAckPending: 1000,
		})
		if err == nil {
			return cons, true
		}
		s.log.Warn("attach the mail consumer", "durable", Durable, "err", err, "retry_in", delay.String())
		select {
		case <-ctx.Done():
			return nil, false
		case <-time.After(delay):
		}
	}
}

// work takes tasks one at a time until ctx is done.
func (s *Sender) work(ctx context.Context, cons jetstream.Consumer) {
	for ctx.Err() == nil {
		m, err := cons.Next(jetstream.FetchContext(ctx))
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, nats.ErrTimeout) {
				s.log.Debug("fetch a mail task", "err", err)
				select { // NATS unreachable: do not spin
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
			continue
		}
		s.handle(context.WithoutCancel(ctx), m) // a task in hand is finished
	}
}

func (s *Sender) handle(ctx context.Context, m jetstream.Msg) {
	if s.prop != nil {
		ctx = natsx.Extract(ctx, s.prop, m.Headers())
	}
	ctx, span := s.tracer.Start(ctx, "send "+TaskSubject, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("messaging.destination.name", m.Subject()),
			attribute.String("messaging.message.id", m.Headers().Get(jetstream.MsgIDHeader))))
	defer span.End()
	meta, _ := m.Metadata()

	t, err := Decode(m.Data())
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		s.deadLetter(ctx, m, meta, "invalid", err)
		return
	}
	log := s.log.With("id", t.ID, "kind", t.Kind, "to", s.address(t.To))
	if s.sent.has(t.ID) {
		log.InfoContext(ctx, "mail already sent, acknowledging it again")
		s.metrics.count(t.Kind, outcomeDuplicate)
		s.ack(ctx, m, log)
		return
	}
	stop := natsx.KeepInProgress(m, s.cfg.AckWait/3)
	err = s.deliver(ctx, t, log)
	stop()
	switch {
	case err == nil:
		s.sent.add(t.ID)
		s.ack(ctx, m, log)
	case permanent(err):
		span.SetStatus(codes.Error, err.Error())
		s.deadLetter(ctx, m, meta, t.Kind, err)
	case meta != nil && time.Since(meta.Timestamp) > s.cfg.RetryFor:
		span.SetStatus(codes.Error, err.Error())
		s.deadLetter(ctx, m, meta, t.Kind, fmt.Errorf("still failing after %s: %w", s.cfg.RetryFor, err))
	default:
		span.SetStatus(codes.Error, err.Error())
		delay := s.backoff(meta)
		s.metrics.count(t.Kind, outcomeRetried)
		log.WarnContext(ctx, "mail not sent, will retry", "err", s.redact(err.Error()), "retry_in", delay.String())
		if err := m.NakWithDelay(delay); err != nil {
			log.WarnContext(ctx, "nak failed: the task comes back after the ack wait", "err", err)
		}
	}
}

// deliver sends the task's mail, or logs it whole in dev mode without SMTP.
func (s *Sender) deliver(ctx context.Context, t Task, log *slog.Logger) error {
	to, err := t.recipient()
	if err != nil {
		return err
	}
	if s.server == nil {
		attrs := []any{"subject", t.Subject, "text", t.Text}
		if t.HTML != "" {
			attrs = append(attrs, "html", t.HTML)
		}
		log.InfoContext(ctx, "mail (dev mode: logged, not sent)", attrs...)
		s.metrics.count(t.Kind, outcomeLogged)
		return nil
	}
	start := time.Now()
	err = s.server.send(ctx, s.cfg.TLS, s.cfg.Timeout, s.helo, s.from.Address, to.Address, compose(t, s.from, to, start))
	s.metrics.took(t.Kind, err == nil, time.Since(start))
	if err == nil {
		s.metrics.count(t.Kind, outcomeSent)
		log.InfoContext(ctx, "mail sent", "took", time.Since(start).Round(time.Millisecond).String())
	}
	return err
}

// ack confirms the task to the server. If that fails the task comes back
// after the ack wait; this process remembers it was sent.
func (s *Sender) ack(ctx context.Context, m jetstream.Msg, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := m.DoubleAck(ctx); err != nil {
		log.WarnContext(ctx, "ack failed", "err", err)
	}
}

// backoff is the delay before the next attempt: BackoffMin doubled at each
// delivery, at most BackoffMax.
func (s *Sender) backoff(meta *jetstream.MsgMetadata) time.Duration {
	if meta == nil || meta.NumDelivered >= 32 {
		return s.cfg.BackoffMax
	}
	return min(s.cfg.BackoffMax, s.cfg.BackoffMin<<(meta.NumDelivered-1))
}

// deadLetter copies the task to the DLQ with the reason, then terminates
// it. If the DLQ cannot take it, the task is retried instead: never lost.
func (s *Sender) deadLetter(ctx context.Context, m jetstream.Msg, meta *jetstream.MsgMetadata, kind string, cause error) {
	dl := natsx.DeadLetter(ctx, s.prop, s.bus.Subject(DLQSubject), Durable, m, cause)
	log := s.log.With("msg_id", m.Headers().Get(jetstream.MsgIDHeader), "kind", kind)
	if _, err := s.bus.JS.PublishMsg(ctx, dl); err != nil {
		log.ErrorContext(ctx, "dead-letter failed, will retry", "err", s.redact(errors.Join(cause, err).Error()))
		if err := m.NakWithDelay(s.backoff(meta)); err != nil {
			log.WarnContext(ctx, "nak failed", "err", err)
		}
		return
	}
	s.metrics.count(kind, outcomeDeadLettered)
	log.WarnContext(ctx, "mail task dead-lettered", "reason", s.redact(cause.Error()))
	if err := m.Term(); err != nil {
		log.WarnContext(ctx, "term failed", "err", err)
	}
}

// address is a recipient as logs may show it: whole in dev mode only.
func (s *Sender) address(addr string) string {
	if s.dev {
		return addr
	}
	return mask(addr)
}

// redact masks the addresses an error text may quote (an SMTP server's
// "550 <jane@example.org>: unknown user"), outside dev mode.
func (s *Sender) redact(text string) string {
	if s.dev {
		return text
	}
	return addressLike.ReplaceAllStringFunc(text, mask)
}

var addressLike = regexp.MustCompile(`[A-Za-z0-9._%+\-=]+@[A-Za-z0-9.\-]+`)

// mask keeps an address's first character and its domain: "j***@example.org".
func mask(addr string) string {
	if a, err := mail.ParseAddress(addr); err == nil {
		addr = a.Address
	}
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 {
		return "***"
	}
	return addr[:1] + "***" + addr[at:]
}

// recent remembers the ids of the last mails this process sent, so that a
// task whose acknowledgement was lost is not sent again when it comes back.
type recent struct {
	mu   sync.Mutex
	ids  map[string]bool
	ring []string
	next int
}

func newRecent(n int) *recent { return &recent{ids: make(map[string]bool, n), ring: make([]string, n)} }

func (r *recent) add(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.ids, r.ring[r.next])
	r.ring[r.next], r.ids[id] = id, true
	r.next = (r.next + 1) % len(r.ring)
}

func (r *recent) has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ids[id]
}
