package config

import (
	"errors"
	"net"
	"strconv"
	"time"
)

// Common holds the settings every service reads.
type Common struct {
	// Env is "dev" (developer machine: embedded NATS fallback allowed) or "prod".
	Env             string
	LogLevel        string
	ShutdownTimeout time.Duration
	// OTLPEndpoint enables OTLP trace export when set; the exporter itself
	// reads the other standard OTEL_EXPORTER_OTLP_* variables.
	OTLPEndpoint string
	ServiceName  string
	// SampleRatio is the parent-based sampling ratio for new traces.
	SampleRatio float64
	// MetricsAddr, when set, serves /metrics on a listener of its own
	// instead of the service's port: the API can then be exposed without
	// its metrics, and scrapers let in without the API.
	MetricsAddr string
}

// Dev reports whether the service runs on a developer machine.
func (c Common) Dev() bool { return c.Env == "dev" }

// ReadCommon reads the common settings; service names the service by default.
func ReadCommon(e *Env, service string) Common {
	return Common{
		Env:             e.Enum("IHR_ENV", "dev", "prod"),
		LogLevel:        e.Enum("IHR_LOG_LEVEL", "info", "debug", "warn", "error"),
		ShutdownTimeout: e.Duration("IHR_SHUTDOWN_TIMEOUT", 20*time.Second, time.Second, 10*time.Minute),
		OTLPEndpoint:    e.String("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
		ServiceName:     e.String("OTEL_SERVICE_NAME", "ihr-"+service),
		SampleRatio:     e.Float("OTEL_TRACES_SAMPLER_ARG", 1, 0, 1),
		MetricsAddr:     Parse(e, "IHR_METRICS_ADDR", "", optionalAddr),
	}
}

// Postgres holds the database settings of services that use PostgreSQL.
type Postgres struct {
	URL              string
	MaxConns         int
	StatementTimeout time.Duration
}

// ReadPostgres reads the database settings.
func ReadPostgres(e *Env) Postgres {
	return Postgres{
		URL:              e.URL("IHR_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ihr?sslmode=disable", "postgres", "postgresql"),
		MaxConns:         e.Int("IHR_DB_MAX_CONNS", 20, 1, 1000),
		StatementTimeout: e.Duration("IHR_DB_STATEMENT_TIMEOUT", 30*time.Second, 100*time.Millisecond, time.Hour),
	}
}

// NATS holds the message bus settings.
type NATS struct {
	URL string
	// Prefix isolates streams and subjects (tests, several deployments on one server).
	Prefix string
	// StoreDir is where an embedded dev server keeps its JetStream files.
	StoreDir string
	// Replicas is how many servers of a JetStream cluster keep each IHR
	// stream (and, by inheritance, its consumers); 1 on a single server.
	Replicas int
}

// ReadNATS reads the message bus settings.
func ReadNATS(e *Env) NATS {
	return NATS{
		URL:      e.URL("IHR_NATS_URL", "nats://127.0.0.1:4222", "nats", "tls"),
		Prefix:   e.String("IHR_NATS_PREFIX", ""),
		StoreDir: e.String("IHR_NATS_STORE_DIR", ".run/nats"),
		// JetStream clusters allow at most 5 replicas.
		Replicas: e.Int("IHR_NATS_REPLICAS", 1, 1, 5),
	}
}

// ReadRedis reads the Redis URL.
func ReadRedis(e *Env) string {
	return e.URL("IHR_REDIS_URL", "redis://127.0.0.1:6379/0", "redis", "rediss")
}

// Auth holds where the auth service is, for the services that verify
// credentials (the gateway, and each service again).
type Auth struct {
	URL    string
	Issuer string
}

// ReadAuth reads the auth settings.
func ReadAuth(e *Env) Auth {
	return Auth{
		URL:    e.URL("IHR_AUTH_URL", "http://127.0.0.1:8083", "http", "https"),
		Issuer: e.String("IHR_AUTH_ISSUER", "ihr"),
	}
}

// optionalAddr reads an empty value or a host:port.
func optionalAddr(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return "", errors.New("must be host:port, e.g. :9464")
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return "", errors.New("port must be between 0 and 65535")
	}
	return v, nil
}
