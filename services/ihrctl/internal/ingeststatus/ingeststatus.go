// Package ingeststatus reports how ingestion keeps up: what the ledger
// (ingest_runs, ingest_staging) says was committed and is waiting, and what
// JetStream says is not consumed yet.
package ingeststatus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/ihr-go/ihr/services/ihrctl/internal/dlq"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
)

// DurablePrefix starts the name of every ingest consumer: the ingestion
// service names its durable "ingestion-<dataset>"
// (services/ingestion/cmd/ingestion/main.go).
const DurablePrefix = "ingestion-"

// Report is the whole status.
type Report struct {
	Time        time.Time  `json:"time"`
	Bins        []Bins     `json:"bins"`
	Consumers   []Consumer `json:"consumers"`
	DLQMessages uint64     `json:"dlq_messages"`
}

// Bins is what the ledger holds for one dataset and address family.
// Windows are measured on the database clock, the one committed_at uses.
type Bins struct {
	Dataset string `json:"dataset" db:"dataset"`
	AF      int    `json:"af" db:"af"`
	// NewestTimebin is the newest committed time bin (nil: none committed).
	NewestTimebin *time.Time `json:"newest_timebin" db:"newest_timebin"`
	// Bins1h and Bins24h count the time bins committed in the last hour and day.
	Bins1h  int64 `json:"bins_1h" db:"bins_1h"`
	Bins24h int64 `json:"bins_24h" db:"bins_24h"`
	// Rows1h counts the rows committed in the last hour.
	Rows1h int64 `json:"rows_1h" db:"rows_1h"`
	// RowsPerSecond5m is the commit rate over the last five minutes.
	RowsPerSecond5m float64 `json:"rows_per_second_5m" db:"rows_per_second_5m"`
	// RunsReplaced counts the runs a later run of their bin replaced, ever.
	RunsReplaced int64 `json:"runs_replaced" db:"runs_replaced"`
	// StagedRuns counts the runs with batches staged but not committed.
	StagedRuns     int64      `json:"staged_runs" db:"staged_runs"`
	OldestStagedAt *time.Time `json:"oldest_staged_at" db:"oldest_staged_at"`
}

// Consumer is the state of one ingest consumer.
type Consumer struct {
	Name    string `json:"name"`
	Dataset string `json:"dataset"`
	// Pending counts the messages not delivered yet: the lag.
	Pending     uint64 `json:"pending"`
	AckPending  int    `json:"ack_pending"`
	Redelivered int    `json:"redelivered"`
}

// ledgerSQL summarises both tables per dataset and af; (part, timebin)
// tells the bins of a dataset and af apart. What is staged is not
// committed: a commit deletes its run's staged batches in its transaction.
const ledgerSQL = `
WITH runs AS (
	SELECT dataset, af,
		max(timebin) AS newest_timebin,
		count(DISTINCT (part, timebin)) FILTER (WHERE committed_at > now() - interval '1 hour') AS bins_1h,
		count(DISTINCT (part, timebin)) FILTER (WHERE committed_at > now() - interval '24 hours') AS bins_24h,
		sum(row_count) FILTER (WHERE committed_at > now() - interval '1 hour') AS rows_1h,
		sum(row_count) FILTER (WHERE committed_at > now() - interval '5 minutes') / 300.0 AS rows_per_second_5m,
		count(*) - count(DISTINCT (part, timebin)) AS runs_replaced
	FROM ingest_runs
	GROUP BY dataset, af
), staged AS (
	SELECT dataset, af, count(DISTINCT (part, timebin, run_id)) AS staged_runs, min(staged_at) AS oldest_staged_at
	FROM ingest_staging
	GROUP BY dataset, af
)
SELECT dataset, af::int AS af, newest_timebin,
	coalesce(bins_1h, 0) AS bins_1h, coalesce(bins_24h, 0) AS bins_24h,
	coalesce(rows_1h, 0)::bigint AS rows_1h, coalesce(rows_per_second_5m, 0)::float8 AS rows_per_second_5m,
	coalesce(runs_replaced, 0) AS runs_replaced,
	coalesce(staged_runs, 0) AS staged_runs, oldest_staged_at
FROM runs FULL JOIN staged USING (dataset, af)
ORDER BY dataset, af`

// Ledger summarises the ledger per dataset and af.
func Ledger(ctx context.Context, conn *pgx.Conn) ([]Bins, error) {
	rows, err := conn.Query(ctx, ledgerSQL)
	if err != nil {
		return nil, fmt.Errorf("read the ingest ledger: %w", err)
	}
	bins, err := pgx.CollectRows(rows, pgx.RowToStructByName[Bins])
	if err != nil {
		return nil, fmt.Errorf("read the ingest ledger: %w", err)
	}
	return bins, nil
}

// Consumers returns the ingest consumers of bus's deployment, by name.
// There are none while the ingest stream does not exist.
func Consumers(ctx context.Context, bus *natsx.Bus) ([]Consumer, error) {
	s, err := bus.JS.Stream(ctx, bus.StreamName(natsx.StreamIngest))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open the ingest stream: %w", err)
	}
	var out []Consumer
	list := s.ListConsumers(ctx)
	for info := range list.Info() {
		if !strings.HasPrefix(info.Name, DurablePrefix) {
			continue
		}
		out = append(out, Consumer{
			Name:        info.Name,
			Dataset:     strings.TrimPrefix(info.Name, DurablePrefix),
			Pending:     info.NumPending,
			AckPending:  info.NumAckPending,
			Redelivered: info.NumRedelivered,
		})
	}
	if err := list.Err(); err != nil {
		return nil, fmt.Errorf("list the ingest consumers: %w", err)
	}
	slices.SortFunc(out, func(a, b Consumer) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Collect builds the whole report.
func Collect(ctx context.Context, conn *pgx.Conn, bus *natsx.Bus) (Report, error) {
	r := Report{Time: time.Now().UTC()}
	var err error
	if r.Bins, err = Ledger(ctx, conn); err != nil {
		return r, err
	}
	if r.Consumers, err = Consumers(ctx, bus); err != nil {
		return r, err
	}
	q, err := dlq.Open(ctx, bus)
	if err != nil {
		return r, err
	}
	r.DLQMessages, err = q.Depth(ctx)
	return r, err
}
