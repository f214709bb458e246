-- Reverts 0011_ingest_part (runs of parts other than '' collapse: drop them first).
DELETE FROM ingest_staging WHERE part <> '';
DELETE FROM ingest_runs WHERE part <> '';
ALTER TABLE ingest_staging DROP CONSTRAINT ingest_staging_pkey;
ALTER TABLE ingest_staging DROP COLUMN part;
ALTER TABLE ingest_staging ADD PRIMARY KEY (dataset, af, timebin, run_id, batch_seq);

DROP INDEX ingest_runs_bin_committed;
ALTER TABLE ingest_runs DROP CONSTRAINT ingest_runs_pkey;
ALTER TABLE ingest_runs DROP COLUMN part;
ALTER TABLE ingest_runs ADD PRIMARY KEY (dataset, af, timebin, run_id);
CREATE INDEX ingest_runs_bin_committed ON ingest_runs (dataset, af, timebin, committed_at DESC);
