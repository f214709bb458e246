package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/jackc/pgx/v5"
)

// connFlags says where an operator command connects: the environment, read
// with pkg/config as the services read it, unless a flag says otherwise.
type connFlags struct {
	natsURL, prefix, dbURL string
	db                     bool
}

// addConnFlags declares --nats-url and --nats-prefix, and --database-url
// when the command needs the database. The flags default to empty so that
// -h never prints a URL (and its password) taken from the environment.
func addConnFlags(fs *flag.FlagSet, db bool) *connFlags {
	c := &connFlags{db: db}
	fs.StringVar(&c.natsURL, "nats-url", "", "NATS server (default $IHR_NATS_URL, else nats://127.0.0.1:4222)")
	fs.StringVar(&c.prefix, "nats-prefix", "", "subject and stream namespace (default $IHR_NATS_PREFIX)")
	if db {
		fs.StringVar(&c.dbURL, "database-url", "", "PostgreSQL (default $IHR_DATABASE_URL, else "+defaultDatabaseURL+")")
	}
	return c
}

// settings merges the flags over the environment, validated as a service
// would validate it.
func (c *connFlags) settings() (config.NATS, string, error) {
	vars := map[string]string{}
	for k, v := range map[string]string{"IHR_NATS_URL": c.natsURL, "IHR_NATS_PREFIX": c.prefix, "IHR_NATS_REPLICAS": "", "IHR_DATABASE_URL": c.dbURL} {
		if v == "" {
			v = os.Getenv(k)
		}
		vars[k] = v
	}
	e := config.FromMap(vars)
	n := config.ReadNATS(e)
	var dbURL string
	if c.db {
		dbURL = config.ReadPostgres(e).URL
	}
	return n, dbURL, e.Err()
}

// connectNATS connects to JetStream, failing at once when the server does
// not answer: an operator wants an error, not a background retry.
func (c *connFlags) connectNATS(ctx context.Context, stderr io.Writer) (*natsx.Bus, error) {
	n, _, err := c.settings()
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	bus, err := natsx.Connect(ctx, n, false, "ihrctl", log)
	if err != nil {
		return nil, err
	}
	if !bus.Conn.IsConnected() {
		bus.Close()
		return nil, fmt.Errorf("NATS is not reachable at %s (set IHR_NATS_URL or --nats-url)", config.Redact(n.URL))
	}
	return bus, nil
}

// connectDB opens one connection to the database.
func (c *connFlags) connectDB(ctx context.Context) (*pgx.Conn, error) {
	_, dbURL, err := c.settings()
	if err != nil {
		return nil, err
	}
	if dbURL == "" {
		return nil, errors.New("this command takes no database")
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("connect to the database %s: %w", config.Redact(dbURL), err)
	}
	return conn, nil
}

// parseInterspersed parses flags that may follow positional arguments
// ("dlq purge 12 --yes"), which flag.Parse alone stops at, and returns the
// positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// newFlagSet returns a subcommand's flag set whose -h prints its synopsis
// and description, then its flags.
func newFlagSet(synopsis, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(synopsis, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: ihrctl %s\n\n%s\n\nFlags:\n", synopsis, about)
		fs.PrintDefaults()
	}
	return fs
}

// connectStreams connects as connectNATS does and makes sure the IHR
// streams exist, for commands that publish.
func (c *connFlags) connectStreams(ctx context.Context, stderr io.Writer) (*natsx.Bus, error) {
	bus, err := c.connectNATS(ctx, stderr)
	if err != nil {
		return nil, err
	}
	if err := bus.EnsureStreams(ctx); err != nil {
		bus.Close()
		return nil, err
	}
	return bus, nil
}
