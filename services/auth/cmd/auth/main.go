// Command auth manages accounts, tokens, API keys, OAuth2 clients and
// roles; it signs the access tokens every service verifies, and mails
// confirmation codes and alerts.
package main

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"time"

	"github.com/ihr-go/ihr/pkg/authn"
	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/ihr-go/ihr/pkg/passwords"
	"github.com/ihr-go/ihr/pkg/service"
	"github.com/ihr-go/ihr/services/auth/internal/alerts"
	"github.com/ihr-go/ihr/services/auth/internal/app"
	"github.com/ihr-go/ihr/services/auth/internal/httpapi"
	"github.com/ihr-go/ihr/services/auth/internal/mail"
	"github.com/ihr-go/ihr/services/auth/internal/signing"
	"github.com/ihr-go/ihr/services/auth/internal/store"
)

type settings struct {
	db        config.Postgres
	nats      config.NATS
	app       app.Config
	keySecret string
	rotate    time.Duration
	overlap   time.Duration
	mail      mail.Config
	// hashes bounds the password hashes computed at once, hashWait how
	// long one waits for a slot before the request is refused.
	hashes   int
	hashWait time.Duration
	// auditKeep is how long the audit log is kept.
	auditKeep time.Duration
}

func spec() service.Spec[settings] {
	return service.Spec[settings]{
		Name: "auth",
		Addr: ":8083",
		Config: func(e *config.Env) settings {
			return settings{
				db:   config.ReadPostgres(e),
				nats: config.ReadNATS(e),
				app: app.Config{
					Issuer:     e.String("IHR_AUTH_ISSUER", "ihr"),
					AccessTTL:  e.Duration("IHR_AUTH_ACCESS_TTL", 15*time.Minute, time.Minute, 24*time.Hour),
					RefreshTTL: e.Duration("IHR_AUTH_REFRESH_TTL", 30*24*time.Hour, time.Hour, 365*24*time.Hour),
					LinkBase:   e.URL("IHR_AUTH_LINK_BASE", "https://ihr.live/en-us/account", "http", "https"),
					LockAfter:  e.Int("IHR_AUTH_LOCK_AFTER", 5, 1, 100),
					LockFor:    e.Duration("IHR_AUTH_LOCK_FOR", 30*time.Second, time.Second, time.Hour),
					LockMax:    e.Duration("IHR_AUTH_LOCK_MAX", 15*time.Minute, time.Second, 24*time.Hour),
					MailEvery:  e.Duration("IHR_AUTH_MAIL_EVERY", 5*time.Minute, 0, 24*time.Hour),
				},
				auditKeep: e.Duration("IHR_AUTH_AUDIT_RETENTION", 400*24*time.Hour, 24*time.Hour, 100*365*24*time.Hour),
				keySecret: e.String("IHR_AUTH_KEY_SECRET", ""),
				rotate:    e.Duration("IHR_AUTH_KEY_ROTATE", 30*24*time.Hour, time.Hour, 365*24*time.Hour),
				overlap:   e.Duration("IHR_AUTH_KEY_OVERLAP", 5*time.Minute, 0, 24*time.Hour),
				mail:      mail.ReadConfig(e),
				hashes:    e.Int("IHR_AUTH_HASH_CONCURRENCY", 2*runtime.GOMAXPROCS(0), 1, 10_000),
				hashWait:  e.Duration("IHR_AUTH_HASH_WAIT", time.Second, 0, time.Minute),
			}
		},
		Start: start,
	}
}

func main() { service.Main(spec()) }

func start(ctx context.Context, rt *service.Runtime, s settings) (http.Handler, error) {
	if s.keySecret == "" && !rt.Common.Dev() {
		return nil, errors.New("IHR_AUTH_KEY_SECRET is required outside dev: it seals the token signing keys in the database")
	}
	if s.keySecret != "" && len(s.keySecret) < 32 {
		return nil, errors.New("IHR_AUTH_KEY_SECRET must be at least 32 characters")
	}
	pool, err := rt.Postgres(ctx, s.db)
	if err != nil {
		return nil, err
	}
	bus, err := rt.NATS(ctx, s.nats, true)
	if err != nil {
		return nil, err
	}
	if err := bus.Observe(rt.Meter("github.com/ihr-go/ihr/services/auth"), natsx.Watch{
		Consumers:   []natsx.Consumer{{Stream: natsx.StreamTasks, Durable: mail.Durable}, {Stream: natsx.StreamResults, Durable: alerts.Durable}},
		DeadLetters: []string{mail.DLQSubject},
	}); err != nil {
		return nil, err
	}
	st := &store.Postgres{Pool: pool}
	keys := &signing.Keys{Store: st, Rotate: s.rotate, Overlap: s.overlap, TokenTTL: s.app.AccessTTL}
	if s.keySecret != "" {
		keys.Secret = []byte(s.keySecret)
	}
	if err := keys.Refresh(ctx); err != nil {
		return nil, err
	}
	// Another replica may have rotated the keys; they are rotated when due.
	rt.Go(func() {
		service.Every(ctx, time.Minute, func() {
			if err := keys.Refresh(ctx); err != nil {
				rt.Log.Error("refresh signing keys", "err", err)
			}
		})
	})
	// What an attacker makes the service write (failed logins, codes) must not pile up.
	rt.Go(func() {
		service.Every(ctx, time.Hour, func() {
			if n, err := st.Housekeep(ctx, store.Retention{Pending: app.ConfirmTTL, Audit: s.auditKeep, Mail: s.app.MailEvery}); err != nil {
				rt.Log.Warn("housekeeping", "err", err)
			} else if n > 0 {
				rt.Log.Info("housekeeping", "deleted", n)
			}
		})
	})

	queue := &mail.Queue{Bus: bus, Propagator: rt.HTTP.Propagator}
	if err := startSender(ctx, rt, s.mail, bus); err != nil {
		return nil, err
	}

	later := app.NewLater(1000)
	rt.Go(func() { later.Run(ctx) })
	svc := &app.Service{Store: st, Passwords: passwords.NewGate(s.hashes, s.hashWait), Later: later, Signer: keys, Access: &authn.TokenVerifier{Keys: keys, Issuer: s.app.Issuer, Leeway: 30 * time.Second, MaxLifetime: s.app.AccessTTL},
		Mail: mailer{queue}, Events: revocations{bus}, Config: s.app, Log: rt.Log}
	alarms := &alerts.Consumer{Bus: bus, Alerter: svc, Log: rt.Log}
	rt.Go(func() { alarms.Run(ctx) })
	api := &httpapi.API{App: svc, JWKS: keys.JWKS, Log: rt.Log}
	return api.Handler(), nil
}

// startSender sends the queued e-mails (in dev without SMTP, logs them;
// in prod without SMTP, leaves them queued).
func startSender(ctx context.Context, rt *service.Runtime, cfg mail.Config, bus *natsx.Bus) error {
	sender, err := mail.NewSender(cfg, bus, mail.Options{Log: rt.Log, Meter: rt.Meter("github.com/ihr-go/ihr/services/auth"),
		Tracer: rt.HTTP.Tracers.Tracer("github.com/ihr-go/ihr/services/auth"), Propagator: rt.HTTP.Propagator, Dev: rt.Common.Dev()})
	if err != nil {
		return err
	}
	rt.Go(func() {
		if err := sender.Run(ctx); err != nil {
			rt.Log.Error("mail sender stopped", "err", err)
		}
	})
	rt.Health.Add("smtp", false, sender.Probe)
	return nil
}

// mailer queues the app's mails as e-mail tasks.
type mailer struct{ q *mail.Queue }

func (m mailer) Send(ctx context.Context, msg app.Mail) error {
	_, err := m.q.Enqueue(ctx, mail.Task{Schema: mail.Schema, ID: msg.ID, Kind: msg.Kind, To: msg.To, Subject: msg.Subject, Text: msg.Text})
	return err
}

// revocations publishes the app's revocations on the bus.
type revocations struct{ bus *natsx.Bus }

func (r revocations) Revoked(ctx context.Context, rev authn.Revocation) error {
	return authn.Publish(ctx, r.bus, rev)
}
