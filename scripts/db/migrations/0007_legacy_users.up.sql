-- Legacy Django user tables, kept so legacy accounts can be imported.
-- Same definitions as the production schema (see docs/operations.md).

CREATE TABLE ihr_ihruser (
    id           serial       NOT NULL,
    password     varchar(128) NOT NULL,
    last_login   timestamptz  NULL,
    is_superuser boolean      NOT NULL,
    email        varchar(254) NOT NULL,
    is_active    boolean      NOT NULL,
    CONSTRAINT ihr_ihruser_pkey PRIMARY KEY (id),
    CONSTRAINT ihr_ihruser_email_key UNIQUE (email)
);

CREATE INDEX ihr_ihruser_email_b8662790_like ON ihr_ihruser (email varchar_pattern_ops);

CREATE TABLE ihr_monitoredasn (
    id          serial   NOT NULL,
    notifylevel smallint NOT NULL,
    asn_id      bigint   NOT NULL,
    user_id     integer  NOT NULL,
    CONSTRAINT ihr_monitoredasn_pkey PRIMARY KEY (id),
    CONSTRAINT ihr_monitoredasn_asn_id_ebb53c46_fk_ihr_asn_number FOREIGN KEY (asn_id)
        REFERENCES ihr_asn (number) DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT ihr_monitoredasn_user_id_bc47f7ea_fk_ihr_ihruser_id FOREIGN KEY (user_id)
        REFERENCES ihr_ihruser (id) DEFERRABLE INITIALLY DEFERRED
);

CREATE INDEX ihr_monitoredasn_asn_id_ebb53c46 ON ihr_monitoredasn (asn_id);

CREATE INDEX ihr_monitoredasn_user_id_bc47f7ea ON ihr_monitoredasn (user_id);

CREATE TABLE ihr_emailchangerequest (
    id           serial       NOT NULL,
    new_email    varchar(254) NOT NULL,
    request_time timestamptz  NOT NULL,
    user_id      integer      NOT NULL,
    CONSTRAINT ihr_emailchangerequest_pkey PRIMARY KEY (id),
    CONSTRAINT ihr_emailchangerequest_new_email_key UNIQUE (new_email),
    CONSTRAINT ihr_emailchangerequest_user_id_65b2bf16_fk_ihr_ihruser_id FOREIGN KEY (user_id)
        REFERENCES ihr_ihruser (id) DEFERRABLE INITIALLY DEFERRED
);

CREATE INDEX ihr_emailchangerequest_new_email_1a0e068a_like ON ihr_emailchangerequest (new_email varchar_pattern_ops);

CREATE INDEX ihr_emailchangerequest_user_id_65b2bf16 ON ihr_emailchangerequest (user_id);

CREATE TABLE ihr_ihruser_channel (
    id        serial       NOT NULL,
    name      varchar(255) NOT NULL,
    channel   varchar(255) NOT NULL,
    frequency varchar(255) NOT NULL,
    CONSTRAINT ihr_ihruser_channel_pkey PRIMARY KEY (id)
);
