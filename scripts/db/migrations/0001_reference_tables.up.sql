-- Reference tables: networks, countries, Atlas locations, traceroute hegemony identifiers.
-- Same definitions as the production schema (see docs/operations.md).

CREATE TABLE ihr_asn (
    number      bigserial    NOT NULL,
    name        varchar(255) NOT NULL,
    tartiflette boolean      NOT NULL,
    disco       boolean      NOT NULL,
    ashash      boolean      NOT NULL,
    CONSTRAINT ihr_asn_pkey PRIMARY KEY (number)
);

CREATE TABLE ihr_country (
    code        varchar(4)   NOT NULL,
    name        varchar(255) NOT NULL,
    tartiflette boolean      NOT NULL,
    disco       boolean      NOT NULL,
    CONSTRAINT ihr_country_pkey PRIMARY KEY (code)
);

CREATE TABLE ihr_atlas_location (
    id   serial       NOT NULL,
    name varchar(255) NOT NULL,
    type varchar(4)   NOT NULL,
    af   integer      NOT NULL,
    CONSTRAINT ihr_atlas_location_pkey PRIMARY KEY (id)
);

CREATE INDEX ihr_atlas_location_af_name_type_idx ON ihr_atlas_location (af, type);

CREATE TABLE ihr_tr_hegemony_identifier (
    id   serial       NOT NULL,
    name varchar(255) NOT NULL,
    type varchar(4)   NOT NULL,
    af   integer      NOT NULL,
    CONSTRAINT ihr_tr_hegemony_identifier_pkey PRIMARY KEY (id)
);
