// Command ihrctl is the operator and pipeline CLI of the IHR API.
//
// Usage:
//
//	ihrctl COMMAND [flags]
//
// Commands:
//
//	demo-data   fill every legacy ihr_* table with deterministic demo data
//	            [--database-url URL] [--scale small|medium] [--seed N] [--end TIME]
//	            [--if-empty | --replace] [--progress auto|always|never]
//	publish     publish generated hegemony bins to JetStream as a pipeline does
//	            hegemony --demo [--bins N] [--origins N] [--run-id ID] ...
//	import      publish IHR daily dumps as bins: DATASET FILE... [--af N] [--state-dir D]
//	dlq         dead-lettered messages (stream IHR_DLQ):
//	            ls [--dataset D] [--limit N] [--json]   list them, oldest first
//	            show ID                                 headers and body of one
//	            replay [--dataset D] [ID...]            publish them again, then delete them
//	            purge [--dataset D] [ID...] --yes       delete them
//	ingest      ingest status [--json]: ledger, consumer lag and DLQ depth
//	users       accounts, straight in the database:
//	            create EMAIL [--role R] [--password-stdin]   an active account (the first admin)
//	            set-role EMAIL ROLE | disable EMAIL | enable EMAIL
//	            import-legacy [--dry-run]                     the legacy Django accounts
//	compare     replay a request list against two deployments and report their parity
//	            --a URL --b URL --requests FILE [--concurrency N] [--json]
//
// The dlq and ingest commands read IHR_NATS_URL, IHR_NATS_PREFIX and
// IHR_DATABASE_URL (or --nats-url, --nats-prefix, --database-url).
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
		"dlq":       {"list, show, replay and purge dead-lettered messages", dlqCmd},
		"import":    {"publish IHR daily dumps (.csv, .csv.gz, .csv.lz4) as bins, resumably", importCmd},
		"ingest":    {"ingest status: committed bins, staged runs, consumer lag, DLQ depth", ingestCmd},
		"users":     {"make the first admin, set roles, disable accounts, import the legacy accounts", usersCmd},
		"compare":   {"replay requests against two deployments (ours and the legacy API) and report their parity", compareCmd},
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
	return dispatch(ctx, "ihrctl", commands(), args, stdout, stderr)
}

// dispatch runs the command args[0] of cmds; name is what the usage calls
// the command group ("ihrctl", "ihrctl dlq").
func dispatch(ctx context.Context, name string, cmds map[string]command, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout, name, cmds)
		return nil
	}
	c, ok := cmds[args[0]]
	if !ok {
		usage(stderr, name, cmds)
		return fmt.Errorf("unknown command %q", args[0])
	}
	if err := c.run(ctx, args[1:], stdout, stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	return nil
}

func usage(w io.Writer, name string, cmds map[string]command) {
	fmt.Fprintf(w, "Usage: %s COMMAND [flags]   (%s COMMAND -h for its flags)\n\nCommands:\n", name, name)
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
}
