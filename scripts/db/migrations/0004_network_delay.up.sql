-- Network delay between RIPE Atlas locations, and its alarms.
-- Same definitions as the production schema (see docs/operations.md).

CREATE TABLE ihr_atlas_delay (
    id            bigserial   NOT NULL,
    timebin       timestamptz NOT NULL,
    median        double precision NOT NULL,
    nbtracks      integer     NOT NULL,
    nbprobes      integer     NOT NULL,
    entropy       double precision NOT NULL,
    hop           integer     NOT NULL,
    nbrealrtts    integer     NOT NULL,
    startpoint_id integer     NOT NULL,
    endpoint_id   integer     NOT NULL,
    CONSTRAINT ihr_atlas_delay_pkey PRIMARY KEY (timebin, id)
);

CREATE INDEX ihr_atlas_delay_endpoint_id_timebin_idx ON ihr_atlas_delay (endpoint_id, timebin DESC);

CREATE INDEX ihr_atlas_delay_startpoint_id_endpoint_id_timebin_idx ON ihr_atlas_delay (startpoint_id, endpoint_id, timebin DESC);

CREATE INDEX ihr_atlas_delay_startpoint_id_timebin_idx ON ihr_atlas_delay (startpoint_id, timebin DESC);

CREATE TABLE ihr_atlas_delay_alarms (
    id            bigserial   NOT NULL,
    timebin       timestamptz NOT NULL,
    deviation     double precision NOT NULL,
    startpoint_id integer     NOT NULL,
    endpoint_id   integer     NOT NULL,
    CONSTRAINT ihr_atlas_delay_alarms_pkey PRIMARY KEY (timebin, id)
);

CREATE INDEX ihr_atlas_delay_alarms_startpoint_id_timebin_idx ON ihr_atlas_delay_alarms (startpoint_id, timebin DESC);

CREATE INDEX ihr_atlas_delay_alarms_endpoint_id_timebin_idx ON ihr_atlas_delay_alarms (endpoint_id, timebin DESC);
