package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/ihr-go/ihr/services/ihrctl/internal/dlq"
)

func dlqCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return dispatch(ctx, "ihrctl dlq", map[string]command{
		"ls":     {"list dead letters, oldest first", dlqList},
		"show":   {"show one dead letter's headers and body", dlqShow},
		"replay": {"publish dead letters again on their subject, then delete them", dlqReplay},
		"purge":  {"delete dead letters (needs --yes)", dlqPurge},
	}, args, stdout, stderr)
}

// withQueue parses args, connects to the deployment's DLQ and calls f with
// it and the positional arguments.
func withQueue(ctx context.Context, fs *flag.FlagSet, args []string, stderr io.Writer, f func(*dlq.Queue, []string) error) error {
	conn := addConnFlags(fs, false)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	bus, err := conn.connectNATS(ctx, stderr)
	if err != nil {
		return err
	}
	defer bus.Close()
	q, err := dlq.Open(ctx, bus)
	if err != nil {
		return err
	}
	return f(q, pos)
}

// selection reads the dead letters a command acts on: the given DLQ
// sequences, or those of a dataset, or (neither) all of them.
func selection(dataset string, pos []string) (dlq.Selection, error) {
	if dataset != "" && len(pos) > 0 {
		return dlq.Selection{}, errors.New("give ids or --dataset, not both")
	}
	sel := dlq.Selection{Dataset: dataset}
	for _, p := range pos {
		seq, err := strconv.ParseUint(p, 10, 64)
		if err != nil || seq == 0 {
			return sel, fmt.Errorf("%q is not a DLQ sequence number (see ihrctl dlq ls)", p)
		}
		if !slices.Contains(sel.Seqs, seq) {
			sel.Seqs = append(sel.Seqs, seq)
		}
	}
	return sel, nil
}

func dlqList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dlq ls [--dataset D] [--limit N] [--json]",
		"Lists dead letters, oldest first: DLQ sequence (the id other dlq commands take), time\n"+
			"dead-lettered, original subject, dataset, original message id (which batch of which\n"+
			"run) and reason. A table, or one JSON object a line with --json.", stderr)
	dataset := fs.String("dataset", "", "only the dead letters of this dataset")
	limit := fs.Int("limit", 100, "at most this many (0: all)")
	asJSON := fs.Bool("json", false, "JSON lines instead of a table")
	return withQueue(ctx, fs, args, stderr, func(q *dlq.Queue, pos []string) error {
		if len(pos) > 0 {
			return fmt.Errorf("unexpected arguments %v", pos)
		}
		sel := dlq.Selection{Dataset: *dataset}
		if *limit > 0 {
			sel.Limit = *limit + 1 // one more tells that some were left out
		}
		msgs, err := q.Select(ctx, sel)
		if err != nil {
			return err
		}
		if *limit > 0 && len(msgs) > *limit {
			msgs = msgs[:*limit]
			fmt.Fprintf(stderr, "only the %d oldest are listed: --limit 0 lists all\n", *limit)
		}
		if *asJSON {
			return writeJSONLines(stdout, msgs)
		}
		return writeTable(stdout, msgs)
	})
}

func writeJSONLines(w io.Writer, msgs []dlq.Message) error {
	enc := json.NewEncoder(w)
	for _, m := range msgs {
		if err := enc.Encode(m); err != nil {
			return err
		}
	}
	return nil
}

func writeTable(w io.Writer, msgs []dlq.Message) error {
	if len(msgs) == 0 {
		_, err := fmt.Fprintln(w, "no dead letters")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tSUBJECT\tDATASET\tMSG ID\tREASON")
	for _, m := range msgs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", m.Seq, m.Time.Format(time.RFC3339), m.Subject, orDash(m.Dataset), orDash(m.MsgID), m.Reason)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func dlqShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dlq show ID", "Shows one dead letter (ID: its DLQ sequence): headers, then the body,\n"+
		"indented when it is JSON.", stderr)
	return withQueue(ctx, fs, args, stderr, func(q *dlq.Queue, pos []string) error {
		if len(pos) != 1 {
			return errors.New("give one DLQ sequence number (see ihrctl dlq ls)")
		}
		sel, err := selection("", pos)
		if err != nil {
			return err
		}
		m, err := q.Get(ctx, sel.Seqs[0])
		if err != nil {
			return err
		}
		return writeMessage(stdout, m)
	})
}

// writeMessage writes every header of m, sorted, then its body.
func writeMessage(w io.Writer, m dlq.Message) error {
	fmt.Fprintf(w, "seq:     %d\ntime:    %s\nsubject: %s\ndataset: %s\n\nheaders:\n",
		m.Seq, m.Time.Format(time.RFC3339Nano), m.Subject, orDash(m.Dataset))
	keys := make([]string, 0, len(m.Header))
	for k := range m.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range m.Header[k] {
			fmt.Fprintf(w, "  %s: %s\n", k, v)
		}
	}
	fmt.Fprintf(w, "\nbody (%d bytes):\n", len(m.Data))
	_, err := w.Write(body(m.Data))
	return err
}

// body renders a message body: indented JSON, text as it is, anything else
// as a hex dump.
func body(data []byte) []byte {
	var out bytes.Buffer
	switch {
	case json.Valid(data) && json.Indent(&out, data, "", "  ") == nil:
	case utf8.Valid(data):
		out.Write(data)
	default:
		out.WriteString(hex.Dump(data))
	}
	if out.Len() > 0 && out.Bytes()[out.Len()-1] != '\n' {
		out.WriteByte('\n')
	}
	return out.Bytes()
}

func dlqReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dlq replay [--dataset D] [ID...]",
		"Publishes dead letters again on the subject they failed on (all, those of a dataset,\n"+
			"or the given ids), oldest first, under a new message id (<original id>:replay:<ID>) so\n"+
			"de-duplication does not drop them, and deletes each from the DLQ once JetStream has\n"+
			"stored its replay. Ingestion is idempotent per run: replaying a committed batch is harmless.", stderr)
	dataset := fs.String("dataset", "", "only the dead letters of this dataset")
	return withQueue(ctx, fs, args, stderr, func(q *dlq.Queue, pos []string) error {
		return forSelected(ctx, q, *dataset, pos, "replayed", stdout, func(m dlq.Message) error { return q.Replay(ctx, m) })
	})
}

func dlqPurge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dlq purge [--dataset D] [ID...] --yes",
		"Deletes dead letters for good: all, those of a dataset, or the given ids.", stderr)
	dataset := fs.String("dataset", "", "only the dead letters of this dataset")
	yes := fs.Bool("yes", false, "really delete")
	return withQueue(ctx, fs, args, stderr, func(q *dlq.Queue, pos []string) error {
		if !*yes {
			return errors.New("purge deletes dead letters for good: add --yes")
		}
		if *dataset == "" && len(pos) == 0 {
			n, err := q.PurgeAll(ctx)
			if err == nil {
				fmt.Fprintf(stdout, "purged %s\n", deadLetters(int(n)))
			}
			return err
		}
		return forSelected(ctx, q, *dataset, pos, "purged", stdout, func(m dlq.Message) error { return q.Delete(ctx, m.Seq) })
	})
}

// forSelected applies f to each selected dead letter, oldest first, and
// says how many it did (before an error too: those are done).
func forSelected(ctx context.Context, q *dlq.Queue, dataset string, pos []string, did string, stdout io.Writer, f func(dlq.Message) error) error {
	sel, err := selection(dataset, pos)
	if err != nil {
		return err
	}
	msgs, err := q.Select(ctx, sel)
	if err != nil {
		return err
	}
	for i, m := range msgs {
		if err := f(m); err != nil {
			return fmt.Errorf("%s %d of %s, then: %w", did, i, deadLetters(len(msgs)), err)
		}
	}
	_, err = fmt.Fprintf(stdout, "%s %s\n", did, deadLetters(len(msgs)))
	return err
}

func deadLetters(n int) string {
	if n == 1 {
		return "1 dead letter"
	}
	return strconv.Itoa(n) + " dead letters"
}
