// Command dropstreams deletes the IHR streams of one NATS prefix
// (IHR_NATS_PREFIX), as a benchmark script cleans up after the services it
// ran: usage `dropstreams [-url nats://...] PREFIX`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/nats-io/nats.go/jetstream"
)

func main() {
	url := flag.String("url", "nats://127.0.0.1:4222", "NATS server")
	flag.Parse()
	if flag.NArg() != 1 || flag.Arg(0) == "" {
		fmt.Fprintln(os.Stderr, "usage: dropstreams [-url nats://host:port] PREFIX")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	err := run(ctx, config.NATS{URL: *url, Prefix: flag.Arg(0)})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "dropstreams:", err)
		os.Exit(1)
	}
}

// run deletes the streams natsx declares under cfg.Prefix; one not there is
// not an error.
func run(ctx context.Context, cfg config.NATS) error {
	bus, err := natsx.Connect(ctx, cfg, false, "ihr-bench-dropstreams", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	defer bus.Close()
	var errs []error
	for _, sc := range bus.Streams() {
		if err := bus.JS.DeleteStream(ctx, sc.Name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			errs = append(errs, fmt.Errorf("delete stream %s: %w", sc.Name, err))
		}
	}
	return errors.Join(errs...)
}
