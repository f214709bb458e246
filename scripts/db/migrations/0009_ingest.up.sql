-- Ingestion's own tables: the ledger of committed runs and the staging area
-- where a bin's batches wait for the bin to be complete.

-- One row per committed run of a bin. The latest committed run of a bin is
-- the one whose rows are in the data tables; a run seen here is never
-- applied again, so redeliveries are no-ops.
CREATE TABLE ingest_runs (
    dataset      text        NOT NULL,
    af           smallint    NOT NULL,
    timebin      timestamptz NOT NULL,
    run_id       text        NOT NULL,
    batch_count  integer     NOT NULL,
    row_count    integer     NOT NULL,
    producer     text        NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    result       jsonb       NOT NULL, -- the results event, re-published after a crash
    PRIMARY KEY (dataset, af, timebin, run_id)
);
CREATE INDEX ingest_runs_bin_committed ON ingest_runs (dataset, af, timebin, committed_at DESC);

-- Batches of runs not committed yet. rows holds the batch's rows packed by
-- the ingestion service (one row per batch keeps the write small and durable).
CREATE TABLE ingest_staging (
    dataset   text        NOT NULL,
    af        smallint    NOT NULL,
    timebin   timestamptz NOT NULL,
    run_id    text        NOT NULL,
    batch_seq integer     NOT NULL,
    row_count integer     NOT NULL,
    rows      bytea       NOT NULL,
    staged_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    reported  boolean     NOT NULL DEFAULT false, -- reported as incomplete
    PRIMARY KEY (dataset, af, timebin, run_id, batch_seq)
);
CREATE INDEX ingest_staging_staged_at ON ingest_staging (staged_at);
-- Packed rows do not compress well; skipping compression saves CPU on every batch.
ALTER TABLE ingest_staging ALTER COLUMN rows SET STORAGE EXTERNAL;
