-- Reverts 0008_timescaledb as far as TimescaleDB allows: removes the compression policies,
-- decompresses the compressed chunks and turns compression off. A hypertable cannot be turned back
-- into a plain table in place, and the extension cannot be dropped without dropping the chunks
-- (the data), so both stay; 0008 up runs again cleanly on them (if_not_exists everywhere).
-- Plain PostgreSQL: a notice, no change.
DO $migration$
DECLARE
    t text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        RAISE NOTICE 'timescaledb is not installed: nothing to revert';
        RETURN;
    END IF;
    FOREACH t IN ARRAY ARRAY['ihr_hegemony', 'ihr_hegemonycone', 'ihr_atlas_delay'] LOOP
        CONTINUE WHEN NOT EXISTS (SELECT 1 FROM timescaledb_information.hypertables
                                  WHERE hypertable_schema = current_schema() AND hypertable_name = t);
        PERFORM remove_compression_policy(t::regclass, if_exists => true);
        PERFORM decompress_chunk(c, if_compressed => true) FROM show_chunks(t::regclass) AS c;
        EXECUTE format('ALTER TABLE %I SET (timescaledb.compress = false)', t);
    END LOOP;
END
$migration$;
