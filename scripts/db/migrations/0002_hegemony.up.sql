-- AS hegemony family: hegemony, cones, alarms, country and prefix hegemony.
-- Same definitions as the production schema (see docs/operations.md).

CREATE TABLE ihr_hegemony (
    id           bigserial   NOT NULL,
    timebin      timestamptz NOT NULL,
    hege         double precision NOT NULL,
    af           integer     NOT NULL,
    asn_id       bigint      NOT NULL,
    originasn_id bigint      NOT NULL,
    CONSTRAINT ihr_hegemony_pkey PRIMARY KEY (timebin, id)
);

CREATE INDEX ihr_hegemony_asn_id_timebin_idx ON ihr_hegemony (asn_id, timebin DESC);

CREATE INDEX ihr_hegemony_originasn_id_timebin_idx ON ihr_hegemony (originasn_id, timebin DESC);

CREATE INDEX ihr_hegemony_asn_id_originasn_id_timebin_idx ON ihr_hegemony (asn_id, originasn_id, timebin DESC);

CREATE TABLE ihr_hegemonycone (
    id       bigserial   NOT NULL,
    timebin  timestamptz NOT NULL,
    conesize integer     NOT NULL,
    af       integer     NOT NULL,
    asn_id   bigint      NOT NULL,
    CONSTRAINT ihr_hegemonycone_pkey PRIMARY KEY (timebin, id),
    CONSTRAINT fk_ihr_hegemonycone_asn_id FOREIGN KEY (asn_id)
        REFERENCES ihr_asn (number) ON DELETE CASCADE
);

CREATE INDEX ihr_hegemonycone_asn_id_timebin_idx ON ihr_hegemonycone (asn_id, timebin DESC);

CREATE TABLE ihr_hegemony_alarms (
    id           bigserial   NOT NULL,
    timebin      timestamptz NOT NULL,
    deviation    double precision NOT NULL,
    af           integer     NOT NULL,
    asn_id       bigint      NOT NULL,
    originasn_id bigint      NOT NULL,
    CONSTRAINT ihr_hegemony_alarms_pkey PRIMARY KEY (timebin, id)
);

CREATE INDEX ihr_hegemony_alarms_asn_id_timebin_idx ON ihr_hegemony_alarms (asn_id, timebin DESC);

CREATE INDEX ihr_hegemony_alarms_originasn_id_timebin_idx ON ihr_hegemony_alarms (originasn_id, timebin DESC);

CREATE TABLE ihr_hegemony_country (
    id           bigserial   NOT NULL,
    timebin      timestamptz NOT NULL,
    hege         double precision NOT NULL,
    af           integer     NOT NULL,
    weight       double precision NOT NULL,
    weightscheme varchar(16) NOT NULL,
    transitonly  boolean     NOT NULL,
    asn_id       bigint      NOT NULL,
    country_id   varchar(4)  NOT NULL,
    CONSTRAINT ihr_hegemony_country_pkey PRIMARY KEY (timebin, id)
);

CREATE INDEX ihr_hegemony_country_asn_id_timebin_idx ON ihr_hegemony_country (asn_id, timebin DESC);

CREATE INDEX ihr_hegemony_country_country_id_timebin_idx ON ihr_hegemony_country (country_id, timebin DESC);

CREATE TABLE ihr_hegemony_prefix (
    id                      bigserial   NOT NULL,
    timebin                 timestamptz NOT NULL,
    prefix                  varchar(64) NOT NULL,
    hege                    double precision NOT NULL,
    af                      integer     NOT NULL,
    visibility              double precision NOT NULL,
    rpki_status             varchar(32) NOT NULL,
    irr_status              varchar(32) NOT NULL,
    delegated_prefix_status varchar(32) NOT NULL,
    delegated_asn_status    varchar(32) NOT NULL,
    descr                   varchar(64) NOT NULL,
    moas                    boolean     NOT NULL,
    asn_id                  bigint      NOT NULL,
    originasn_id            bigint      NOT NULL,
    country_id              varchar(4)  NOT NULL,
    CONSTRAINT ihr_hegemony_prefix_pkey PRIMARY KEY (timebin, id)
);

CREATE INDEX ihr_hegemony_prefix_prefix_timebin_idx ON ihr_hegemony_prefix (prefix, timebin DESC);

CREATE INDEX ihr_hegemony_prefix_asn_id_timebin_idx ON ihr_hegemony_prefix (asn_id, timebin DESC);

CREATE INDEX ihr_hegemony_prefix_originasn_id_timebin_idx ON ihr_hegemony_prefix (originasn_id, timebin DESC);

CREATE INDEX ihr_hegemony_prefix_country_id_timebin_idx ON ihr_hegemony_prefix (country_id, timebin DESC);
