-- Bins of some datasets are split further by a part (the metric of the
-- metis datasets): the ledger and the staging area key runs by it too.
ALTER TABLE ingest_runs ADD COLUMN part text NOT NULL DEFAULT '';
ALTER TABLE ingest_runs DROP CONSTRAINT ingest_runs_pkey;
ALTER TABLE ingest_runs ADD PRIMARY KEY (dataset, part, af, timebin, run_id);
DROP INDEX ingest_runs_bin_committed;
CREATE INDEX ingest_runs_bin_committed ON ingest_runs (dataset, part, af, timebin, committed_at DESC);

ALTER TABLE ingest_staging ADD COLUMN part text NOT NULL DEFAULT '';
ALTER TABLE ingest_staging DROP CONSTRAINT ingest_staging_pkey;
ALTER TABLE ingest_staging ADD PRIMARY KEY (dataset, part, af, timebin, run_id, batch_seq);
