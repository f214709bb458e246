// Package natsx connects services to NATS JetStream: it provisions the IHR
// streams idempotently, carries trace context in message headers and, on a
// developer machine without a NATS server, starts an embedded one so that
// `make run` works anyway.
package natsx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Bus is a JetStream connection, with the embedded server it started, if any.
type Bus struct {
	Conn     *nats.Conn
	JS       jetstream.JetStream
	prefix   string
	replicas int
	embedded *server.Server
	closed   chan struct{}
}

var validPrefix = regexp.MustCompile(`^[A-Za-z0-9_-]*$`)

// Connect connects to cfg.URL. When the server does not answer and dev is
// true, it starts an embedded JetStream server listening on the URL's
// address (so the other local services find it too) and connects to that.
// Otherwise the connection keeps retrying in the background and readiness
// reports NATS as down until it succeeds.
func Connect(ctx context.Context, cfg config.NATS, dev bool, name string, log *slog.Logger) (*Bus, error) {
	if !validPrefix.MatchString(cfg.Prefix) {
		return nil, fmt.Errorf("IHR_NATS_PREFIX %q: only letters, digits, '-' and '_'", cfg.Prefix)
	}
	b := &Bus{prefix: cfg.Prefix, replicas: max(cfg.Replicas, 1), closed: make(chan struct{})}
	markClosed := sync.OnceFunc(func() { close(b.closed) })
	opts := []nats.Option{
		nats.Name(name),
		// Once: a failed first attempt must not close the channel for the second.
		nats.ClosedHandler(func(*nats.Conn) { markClosed() }),
		nats.Timeout(2 * time.Second),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", c.ConnectedUrlRedacted()) }),
	}
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil && dev {
		log.Warn("nats unreachable, starting an embedded JetStream server (dev mode)", "url", cfg.URL, "err", err)
		if b.embedded, err = startEmbedded(cfg); err != nil {
			return nil, err
		}
		nc, err = nats.Connect(cfg.URL, opts...)
	}
	if err != nil && !dev {
		log.Warn("nats unreachable, retrying in the background", "url", cfg.URL, "err", err)
		nc, err = nats.Connect(cfg.URL, append(opts, nats.RetryOnFailedConnect(true))...)
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("connect nats %s: %w", cfg.URL, err)
	}
	b.Conn = nc
	if b.JS, err = jetstream.New(nc); err != nil {
		b.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return b, nil
}

// startEmbedded serves JetStream on the host and port of rawURL. If another
// local process took the port first, that one is the server and nil is returned.
func startEmbedded(cfg config.NATS) (*server.Server, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("IHR_NATS_URL: %w", err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		port = 4222
	}
	if ln, err := net.Listen("tcp", net.JoinHostPort(u.Hostname(), strconv.Itoa(port))); err != nil {
		return nil, nil // someone listens there: connect to it
	} else {
		ln.Close()
	}
	s, err := server.NewServer(&server.Options{
		ServerName: "ihr-dev",
		Host:       u.Hostname(),
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoSigs:     true,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, errors.New("embedded nats did not start within 10s")
	}
	return s, nil
}

// Embedded reports whether this process runs the embedded server.
func (b *Bus) Embedded() bool { return b.embedded != nil }

// Subject returns subject s in this deployment's namespace.
func (b *Bus) Subject(s string) string {
	if b.prefix == "" {
		return s
	}
	return b.prefix + "." + s
}

// StreamName returns stream name s in this deployment's namespace.
func (b *Bus) StreamName(s string) string {
	if b.prefix == "" {
		return s
	}
	return b.prefix + "_" + s
}

// Probe is a readiness check: connected and JetStream answers.
func (b *Bus) Probe(ctx context.Context) error {
	if !b.Conn.IsConnected() {
		return fmt.Errorf("nats: %s", b.Conn.Status())
	}
	if _, err := b.JS.AccountInfo(ctx); err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	return nil
}

// Close drains the connection and stops the embedded server, if any.
func (b *Bus) Close() {
	if b.Conn != nil {
		// Drain delivers what subscribers already received, then closes.
		if err := b.Conn.Drain(); err != nil {
			b.Conn.Close()
		}
		select {
		case <-b.closed:
		case <-time.After(10 * time.Second):
			b.Conn.Close()
		}
	}
	if b.embedded != nil {
		b.embedded.Shutdown()
		b.embedded.WaitForShutdown()
	}
}
