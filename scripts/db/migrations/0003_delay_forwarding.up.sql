-- Link delay and forwarding (tartiflette) with their alarms and measurement links.
-- Same definitions as the production schema (see docs/operations.md).

CREATE TABLE ihr_delay (
    id        bigserial   NOT NULL,
    timebin   timestamptz NOT NULL,
    magnitude double precision NOT NULL,
    asn_id    bigint      NOT NULL,
    CONSTRAINT ihr_delay_pkey PRIMARY KEY (timebin, id)
);

CREATE INDEX ihr_delay_asn_id_timebin_idx ON ihr_delay (asn_id, timebin DESC);

CREATE TABLE ihr_forwarding (
    id        bigserial   NOT NULL,
    timebin   timestamptz NOT NULL,
    magnitude double precision NOT NULL,
    asn_id    bigint      NOT NULL,
    CONSTRAINT ihr_forwarding_pkey PRIMARY KEY (timebin, id)
);

CREATE INDEX ihr_forwarding_asn_id_timebin_idx ON ihr_forwarding (asn_id, timebin DESC);

CREATE TABLE ihr_delay_alarms (
    id          bigserial    NOT NULL,
    timebin     timestamptz  NOT NULL,
    ip          varchar(64)  NOT NULL,
    link        varchar(128) NOT NULL,
    medianrtt   double precision NOT NULL,
    diffmedian  double precision NOT NULL,
    deviation   double precision NOT NULL,
    nbprobes    integer      NOT NULL,
    msm_prb_ids jsonb        NULL,
    asn_id      bigint       NOT NULL,
    CONSTRAINT ihr_delay_alarms_pkey PRIMARY KEY (timebin, id)
);

CREATE INDEX ihr_delay_alarms_asn_id_timebin_idx ON ihr_delay_alarms (asn_id, timebin DESC);

CREATE TABLE ihr_forwarding_alarms (
    id             bigserial   NOT NULL,
    timebin        timestamptz NOT NULL,
    ip             varchar(64) NOT NULL,
    correlation    double precision NOT NULL,
    responsibility double precision NOT NULL,
    pktdiff        double precision NOT NULL,
    previoushop    varchar(64) NOT NULL,
    msm_prb_ids    jsonb       NULL,
    asn_id         bigint      NOT NULL,
    CONSTRAINT ihr_forwarding_alarms_pkey PRIMARY KEY (timebin, id)
);

CREATE INDEX ihr_forwarding_alarms_asn_id_timebin_idx ON ihr_forwarding_alarms (asn_id, timebin DESC);

CREATE TABLE ihr_delay_alarms_msms (
    id       serial  NOT NULL,
    msmid    bigint  NOT NULL,
    probeid  integer NOT NULL,
    alarm_id integer NOT NULL,
    CONSTRAINT ihr_delay_alarms_msms_pkey PRIMARY KEY (id)
);

CREATE INDEX ihr_delay_alarms_msms_alarm_id ON ihr_delay_alarms_msms (alarm_id);

CREATE TABLE ihr_forwarding_alarms_msms (
    id       serial  NOT NULL,
    msmid    bigint  NOT NULL,
    probeid  integer NOT NULL,
    alarm_id integer NOT NULL,
    CONSTRAINT ihr_forwarding_alarms_msms_pkey PRIMARY KEY (id)
);

CREATE INDEX ihr_forwarding_alarms_msms_alarm_id ON ihr_forwarding_alarms_msms (alarm_id);
