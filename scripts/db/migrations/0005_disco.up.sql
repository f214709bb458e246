-- Network disconnections (disco): events and the probes that saw them.
-- Same definitions as the production schema (see docs/operations.md).

CREATE TABLE ihr_disco_events (
    id            serial       NOT NULL,
    mongoid       varchar(24)  NOT NULL,
    streamtype    varchar(10)  NOT NULL,
    streamname    varchar(128) NOT NULL,
    starttime     timestamptz  NOT NULL,
    endtime       timestamptz  NOT NULL,
    avglevel      double precision NOT NULL,
    nbdiscoprobes integer      NOT NULL,
    totalprobes   integer      NOT NULL,
    ongoing       boolean      NOT NULL,
    CONSTRAINT ihr_disco_events_pkey PRIMARY KEY (id)
);

CREATE INDEX ihr_disco_events_mongoid_3a488192 ON ihr_disco_events (mongoid);

CREATE INDEX ihr_disco_events_streamtype_streamname_st_bda16df6_idx ON ihr_disco_events (streamtype, streamname, starttime, endtime);

CREATE TABLE ihr_disco_probes (
    id       serial      NOT NULL,
    probe_id integer     NOT NULL,
    starttime timestamptz NOT NULL,
    endtime  timestamptz NOT NULL,
    level    double precision NOT NULL,
    ipv4     varchar(64) NOT NULL,
    prefixv4 varchar(70) NOT NULL,
    lat      double precision NOT NULL,
    lon      double precision NOT NULL,
    event_id integer     NOT NULL,
    CONSTRAINT ihr_disco_probes_pkey PRIMARY KEY (id),
    CONSTRAINT fk_disco_probes_event_id FOREIGN KEY (event_id)
        REFERENCES ihr_disco_events (id) ON DELETE CASCADE
);

CREATE INDEX ihr_disco_probes_event_id ON ihr_disco_probes (event_id);
