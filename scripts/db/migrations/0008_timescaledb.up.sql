-- Where the TimescaleDB extension is available (IHR production), turn the time-series tables into
-- hypertables with the production chunk and compression settings. Plain PostgreSQL: a notice, no change.
DO $migration$
DECLARE
    -- table, chunk interval, compression segmentby ('' = not compressed)
    spec text[][] := ARRAY[
        ['ihr_hegemony',               '2 days', 'af,originasn_id,asn_id'],
        ['ihr_hegemonycone',           '2 days', 'asn_id,af'],
        ['ihr_hegemony_alarms',        '2 days', ''],
        ['ihr_hegemony_country',       '2 days', ''],
        ['ihr_hegemony_prefix',        '2 days', ''],
        ['ihr_delay',                  '2 days', ''],
        ['ihr_forwarding',             '2 days', ''],
        ['ihr_delay_alarms',           '2 days', ''],
        ['ihr_forwarding_alarms',      '2 days', ''],
        ['ihr_atlas_delay',            '2 days', 'startpoint_id,endpoint_id'],
        ['ihr_atlas_delay_alarms',     '2 days', ''],
        ['ihr_metis_atlas_selection',  '7 days', ''],
        ['ihr_metis_atlas_deployment', '7 days', ''],
        ['ihr_tr_hegemony',            '2 days', '']
    ];
    i int;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        RAISE NOTICE 'timescaledb is not available: time-series tables stay plain tables';
        RETURN;
    END IF;
    CREATE EXTENSION IF NOT EXISTS timescaledb;
    FOR i IN 1 .. array_length(spec, 1) LOOP
        EXECUTE format('SELECT create_hypertable(%L, by_range(%L, %L::interval), create_default_indexes => false, migrate_data => true, if_not_exists => true)',
                       spec[i][1], 'timebin', spec[i][2]);
        IF spec[i][3] <> '' THEN
            EXECUTE format('ALTER TABLE %I SET (timescaledb.compress, timescaledb.compress_segmentby = %L, timescaledb.compress_orderby = %L)',
                           spec[i][1], spec[i][3], 'timebin');
            EXECUTE format('SELECT add_compression_policy(%L, INTERVAL %L, if_not_exists => true)', spec[i][1], '7 days');
        END IF;
    END LOOP;
END
$migration$;
