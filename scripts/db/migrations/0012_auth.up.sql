-- The auth service's own tables: accounts, their roles, one-time codes,
-- refresh tokens, API keys, OAuth2 clients, monitored networks, signing
-- keys, the audit log and the alerts already sent. Secrets are stored hashed
-- (SHA-256 of high-entropy tokens, argon2id of passwords). What each role
-- may do is in code (pkg/authn), so the gateway and every service check the
-- same table.

CREATE TABLE auth_roles (
    name        text PRIMARY KEY,
    description text NOT NULL
);
INSERT INTO auth_roles (name, description) VALUES
    ('user', 'reads public data, manages its own account and monitored networks'),
    ('pipeline', 'reads public data, ingests the datasets it is granted'),
    ('admin', 'everything, including accounts, keys, clients and operations');

CREATE TABLE auth_users (
    id            bigserial   PRIMARY KEY,
    email         text        NOT NULL,
    -- argon2id in PHC format, or a legacy Django pbkdf2_sha256$ hash until
    -- its first successful login re-hashes it
    password_hash text        NOT NULL,
    role          text        NOT NULL DEFAULT 'user' REFERENCES auth_roles (name),
    status        text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'disabled')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    confirmed_at  timestamptz,
    last_login    timestamptz,
    -- access tokens carry it; raising it revokes those issued before
    token_version integer     NOT NULL DEFAULT 0,
    legacy_id     integer     UNIQUE -- ihr_ihruser.id of an imported account
);
CREATE UNIQUE INDEX auth_users_email ON auth_users (lower(email));

-- Failed logins in a row, by lowered address (known or not, so that a
-- lockout tells nothing of which addresses have accounts), and the time
-- before which no login for it is tried.
CREATE TABLE auth_login_failures (
    email        text        PRIMARY KEY,
    failures     integer     NOT NULL,
    locked_until timestamptz,
    updated_at   timestamptz NOT NULL
);

-- Codes mailed to a user: confirm a registration, reset a password, confirm
-- a new e-mail address. Stored hashed, used once.
CREATE TABLE auth_codes (
    hash       bytea       PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    purpose    text        NOT NULL CHECK (purpose IN ('confirm', 'reset', 'email')),
    new_email  text,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX auth_codes_user ON auth_codes (user_id, purpose);

-- Refresh tokens, rotated at each use; a family is one login. A token used
-- twice was stolen or replayed: its whole family is revoked.
CREATE TABLE auth_refresh_tokens (
    hash       bytea       PRIMARY KEY,
    family     uuid        NOT NULL,
    user_id    bigint      NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    issued_at  timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    revoked_at timestamptz
);
CREATE INDEX auth_refresh_tokens_family ON auth_refresh_tokens (family);
CREATE INDEX auth_refresh_tokens_user ON auth_refresh_tokens (user_id);
CREATE INDEX auth_refresh_tokens_expires ON auth_refresh_tokens (expires_at);

-- API keys for scripts and pipelines: ihr_<id>_<secret>, shown once; the
-- id is public (it names the key in logs and lists), the secret is hashed.
CREATE TABLE auth_api_keys (
    id         text        PRIMARY KEY,
    hash       bytea       NOT NULL,
    user_id    bigint      NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    name       text        NOT NULL,
    role       text        NOT NULL REFERENCES auth_roles (name),
    scopes     text[]      NOT NULL,
    datasets   text[]      NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    last_used  timestamptz,
    revoked_at timestamptz
);
CREATE INDEX auth_api_keys_user ON auth_api_keys (user_id);

-- OAuth2 clients (client_credentials grant), for pipelines.
CREATE TABLE auth_clients (
    id          text        PRIMARY KEY,
    secret_hash bytea       NOT NULL,
    name        text        NOT NULL,
    role        text        NOT NULL REFERENCES auth_roles (name),
    scopes      text[]      NOT NULL,
    datasets    text[]      NOT NULL DEFAULT '{}',
    created_by  bigint      REFERENCES auth_users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- Networks a user monitors, with the least alarm severity worth a mail
-- (0 low, 5 moderate, 10 high, as the legacy ihr_monitoredasn).
CREATE TABLE auth_monitored_asns (
    user_id      bigint   NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    asn          bigint   NOT NULL,
    notify_level smallint NOT NULL CHECK (notify_level IN (0, 5, 10)),
    PRIMARY KEY (user_id, asn)
);
CREATE INDEX auth_monitored_asns_asn ON auth_monitored_asns (asn);

-- Keys that sign access tokens (Ed25519). A key signs from active_from
-- until retired_at and stays published until the tokens it signed expired.
-- private_key is sealed with IHR_AUTH_KEY_SECRET when it is set.
CREATE TABLE auth_signing_keys (
    kid         text        PRIMARY KEY,
    alg         text        NOT NULL,
    private_key bytea       NOT NULL,
    sealed      boolean     NOT NULL,
    public_key  bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    active_from timestamptz NOT NULL,
    retired_at  timestamptz
);

-- Who did what: logins (and failures), account changes, keys, revocations.
CREATE TABLE auth_audit (
    id     bigserial   PRIMARY KEY,
    at     timestamptz NOT NULL DEFAULT now(),
    actor  text        NOT NULL,
    action text        NOT NULL,
    target text,
    ip     text,
    detail jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX auth_audit_at ON auth_audit (at);
CREATE INDEX auth_audit_target ON auth_audit (target, at);

-- Alarm alerts mailed, so a redelivered results event mails nobody twice.
CREATE TABLE auth_alerts_sent (
    user_id bigint      NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    alarm   text        NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, alarm)
);
