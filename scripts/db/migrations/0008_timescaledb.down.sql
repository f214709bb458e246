-- Hypertables cannot be turned back into plain tables in place; reverting this step only removes the
-- compression policies. Plain PostgreSQL: nothing to do.
DO $migration$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        RETURN;
    END IF;
    PERFORM remove_compression_policy(t, if_exists => true)
    FROM unnest(ARRAY['ihr_hegemony', 'ihr_hegemonycone', 'ihr_atlas_delay']) AS t;
END
$migration$;
