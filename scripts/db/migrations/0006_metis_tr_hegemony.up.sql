-- Metis Atlas probe selection and deployment, traceroute hegemony.
-- Same definitions as the production schema (see docs/operations.md).

CREATE TABLE ihr_metis_atlas_selection (
    id      bigserial   NOT NULL,
    timebin timestamptz NOT NULL,
    metric  varchar(16) NOT NULL,
    rank    integer     NOT NULL,
    af      integer     NOT NULL,
    mean    double precision NOT NULL,
    asn_id  bigint      NOT NULL,
    CONSTRAINT ihr_metis_atlas_selection_pkey PRIMARY KEY (timebin, id)
);

CREATE INDEX ihr_metis_atlas_selection_metric_rank_timebin_idx ON ihr_metis_atlas_selection (metric, rank, timebin);

CREATE TABLE ihr_metis_atlas_deployment (
    id        bigserial   NOT NULL,
    timebin   timestamptz NOT NULL,
    metric    varchar(16) NOT NULL,
    rank      integer     NOT NULL,
    af        integer     NOT NULL,
    mean      double precision NOT NULL,
    nbsamples integer     NOT NULL,
    asn_id    bigint      NOT NULL,
    CONSTRAINT ihr_metis_atlas_deployment_pkey PRIMARY KEY (timebin, id)
);

CREATE INDEX ihr_metis_atlas_deployment_metric_rank_timebin_idx ON ihr_metis_atlas_deployment (metric, rank, timebin);

CREATE TABLE ihr_tr_hegemony (
    id            bigserial   NOT NULL,
    timebin       timestamptz NOT NULL,
    hege          double precision NOT NULL,
    af            integer     NOT NULL,
    nbsamples     integer     NOT NULL,
    dependency_id integer     NOT NULL,
    origin_id     integer     NOT NULL,
    CONSTRAINT ihr_tr_hegemony_pkey PRIMARY KEY (timebin, id)
);

CREATE INDEX ihr_tr_hegemony_dependency_id_timebin_idx ON ihr_tr_hegemony (dependency_id, timebin DESC);

CREATE INDEX ihr_tr_hegemony_origin_id_timebin_idx ON ihr_tr_hegemony (origin_id, timebin DESC);
