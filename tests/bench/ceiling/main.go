// Command ceiling is the upper bound of the cached-read benchmark
// (scripts/bench/cache.sh): the least an HTTP server does to answer, the
// same bytes from memory with net/http and nothing else. It serves each
// FILE at /<its base name> and logs nothing per request.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: ceiling [-addr host:port] FILE...")
		flag.PrintDefaults()
	}
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, *addr, flag.Args())
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr string, files []string) error {
	if len(files) == 0 {
		return errors.New("no file to serve")
	}
	mux := http.NewServeMux()
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		mux.Handle("GET /"+filepath.Base(f), answer(body))
	}
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// answer writes body as JSON. The header values are made once and shared:
// net/http only reads them.
func answer(body []byte) http.Handler {
	ctype, length := []string{"application/json"}, []string{strconv.Itoa(len(body))}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = ctype
		h["Content-Length"] = length
		if r.Method != http.MethodHead {
			_, _ = w.Write(body)
		}
	})
}
