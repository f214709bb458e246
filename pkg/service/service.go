// Package service runs a service process the same way for all five: read
// and validate the configuration, set up telemetry, open the dependencies
// the service asks for (each registered with readiness and shutdown), serve
// HTTP with /healthz, /readyz and /metrics, and stop in order on SIGTERM.
package service

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/health"
	"github.com/ihr-go/ihr/pkg/httpx"
	"github.com/ihr-go/ihr/pkg/telemetry"
)

// Spec describes a service. C is its own configuration.
type Spec[C any] struct {
	// Name is the service name: gateway, query, ...; its listen address
	// variable is IHR_<NAME>_ADDR.
	Name string
	// Addr is the default listen address, e.g. ":8081".
	Addr string
	// Config reads the service's own variables.
	Config func(*config.Env) C
	// Start opens dependencies through rt and returns the service's routes.
	// Work it starts must stop when ctx is done.
	Start func(ctx context.Context, rt *Runtime, cfg C) (http.Handler, error)
	// Tuning is the service's default runtime tuning (IHR_PROCS_PER_CORE,
	// IHR_GC_HEAP_FLOOR_BYTES), applied by Main: a process-wide setting that
	// services run together in a test process must not change.
	Tuning Tuning
}

// Main runs s as the process: flags from os.Args, variables from the
// environment, stopped by SIGINT or SIGTERM. It exits non-zero on failure.
func Main[C any](s Spec[C]) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, s, os.Args[1:], os.LookupEnv, os.Stdout, true)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", s.Name, err)
		os.Exit(1)
	}
}

// Run runs s until ctx is done. Flags: --env lists the variables the service
// reads with their defaults; --healthcheck asks a running instance's /readyz
// (for container health checks) and returns an error unless it is ready.
func Run[C any](ctx context.Context, s Spec[C], args []string, lookup func(string) (string, bool), stdout io.Writer) error {
	return run(ctx, s, args, lookup, stdout, false)
}

// run is Run; process tells that the service is the whole process, whose
// runtime it then tunes.
func run[C any](ctx context.Context, s Spec[C], args []string, lookup func(string) (string, bool), stdout io.Writer, process bool) error {
	fs := flag.NewFlagSet(s.Name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	listEnv := fs.Bool("env", false, "print the environment variables read, with their defaults, and exit")
	healthcheck := fs.Bool("healthcheck", false, "exit 0 when the running service answers /readyz with 200")
	if err := fs.Parse(args); err != nil {
		return err
	}

	env := config.New(lookup)
	common := config.ReadCommon(env, s.Name)
	addrVar := "IHR_" + strings.ToUpper(s.Name) + "_ADDR"
	addr := env.Addr(addrVar, s.Addr)
	cfg := s.Config(env)
	tuning := readTuning(env, s.Tuning)
	switch {
	case *listEnv:
		for _, v := range env.Vars() {
			fmt.Fprintf(stdout, "%s=%s\n", v.Name, v.Default)
		}
		return nil
	case *healthcheck:
		return checkReady(ctx, addr)
	}
	if err := env.Err(); err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	var tune *Tuning // nil: the runtime is not the service's own
	if process {
		tune = &tuning
	}
	return serve(ctx, s, common, addr, cfg, tune, stdout)
}

func serve[C any](ctx context.Context, s Spec[C], common config.Common, addr string, cfg C, tune *Tuning, logs io.Writer) (err error) {
	tel, err := telemetry.Setup(ctx, common, logs)
	if err != nil {
		return err
	}
	log := tel.Logger
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if terr := tel.Shutdown(sctx); terr != nil {
			log.Warn("telemetry shutdown", "err", terr)
		}
	}()
	if tune != nil {
		a := tune.apply(ctx, os.Getenv)
		log.Info("runtime", "gomaxprocs", a.Procs, "cores", runtime.NumCPU(), "gc_heap_floor_bytes", a.Floor)
	}

	rt := &Runtime{
		Name:   s.Name,
		Common: common,
		Log:    log,
		Health: health.New(2 * time.Second),
		HTTP:   httpx.Instruments{Logger: log, Tracers: tel.Tracers, Meters: tel.Meters, Propagator: tel.Propagator},
	}
	defer rt.close()
	if err := rt.Health.RegisterMetric(tel.Meters.Meter("github.com/ihr-go/ihr/pkg/health")); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	handler, err := s.Start(ctx, rt, cfg)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", health.Live)
	mux.HandleFunc("GET /readyz", rt.Health.Ready)
	metrics := mux
	if common.MetricsAddr != "" {
		metrics = http.NewServeMux()
	}
	metrics.Handle("GET /metrics", tel.MetricsHandler())
	mux.Handle("/", rt.HTTP.Handler(handler))

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	var metricsErr error
	var served sync.WaitGroup
	if common.MetricsAddr != "" {
		mln, err := net.Listen("tcp", common.MetricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listen %s (metrics): %w", common.MetricsAddr, err)
		}
		served.Go(func() {
			if metricsErr = httpx.Serve(ctx, mln, metrics, common.ShutdownTimeout, log); metricsErr != nil {
				cancel() // a service whose metrics are gone stops, and says why
			}
		})
	}
	log.Info("started", "env", common.Env, "addr", ln.Addr().String())
	err = httpx.Serve(ctx, ln, mux, common.ShutdownTimeout, log)
	cancel() // stop background work before dependencies close
	served.Wait()
	rt.wait()
	log.Info("stopped")
	return errors.Join(err, metricsErr)
}

func checkReady(ctx context.Context, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return errors.New("not ready: " + strings.TrimSpace(string(b)))
	}
	return nil
}

// closers run in reverse order of registration.
func reverse[T any](s []T) []T {
	c := slices.Clone(s)
	slices.Reverse(c)
	return c
}

// Runner returns s as a function that runs it with variables from lookup,
// the shape tests use to start a service in-process.
func Runner[C any](s Spec[C]) func(ctx context.Context, lookup func(string) (string, bool), logs io.Writer) error {
	return func(ctx context.Context, lookup func(string) (string, bool), logs io.Writer) error {
		return Run(ctx, s, nil, lookup, logs)
	}
}
