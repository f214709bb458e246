// Command ihrctl is the operator and pipeline CLI of the IHR API.
//
// Usage:
//
//	ihrctl COMMAND [flags]
//
// Commands:
//
//	demo-data   fill every legacy ihr_* table with deterministic demo data
//	publish     publish hegemony bins to JetStream as a pipeline does
//	            [--database-url URL] [--scale small|medium] [--seed N] [--end TIME]
//	            [--if-empty | --replace] [--progress auto|always|never]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one ihrctl subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"demo-data": {"fill every ihr_* table with deterministic demo data", demoData},
		"publish":   {"publish hegemony bins to JetStream as a pipeline does (from a CSV dump or generated)", publishCmd},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ihrctl:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout, cmds)
		return nil
	}
	c, ok := cmds[args[0]]
	if !ok {
		usage(stderr, cmds)
		return fmt.Errorf("unknown command %q", args[0])
	}
	if err := c.run(ctx, args[1:], stdout, stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	return nil
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "Usage: ihrctl COMMAND [flags]   (ihrctl COMMAND -h for its flags)\n\nCommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
}
