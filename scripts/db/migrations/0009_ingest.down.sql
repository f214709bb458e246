-- Reverts 0009_ingest.
DROP TABLE ingest_staging;
DROP TABLE ingest_runs;
