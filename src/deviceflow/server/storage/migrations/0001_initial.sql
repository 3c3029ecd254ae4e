-- deviceflow server schema, version 1. Codes and tokens are stored only as keyed digests.
CREATE TABLE device_grants (
    device_hash       TEXT PRIMARY KEY,
    user_hash         TEXT NOT NULL UNIQUE,
    client_id         TEXT NOT NULL,
    tenant_id         TEXT NOT NULL,
    scopes            TEXT NOT NULL,
    device_ip         TEXT NOT NULL,
    device_user_agent TEXT,
    created_at        REAL NOT NULL,
    expires_at        REAL NOT NULL,
    interval          INTEGER NOT NULL,
    last_poll_at      REAL,
    status            TEXT NOT NULL DEFAULT 'pending',
    user_id           TEXT,
    decided_at        REAL,
    family_id         TEXT
);
CREATE INDEX device_grants_expires_at ON device_grants (expires_at);

CREATE TABLE refresh_tokens (
    token_hash          TEXT PRIMARY KEY,
    family_id           TEXT NOT NULL,
    client_id           TEXT NOT NULL,
    tenant_id           TEXT NOT NULL,
    user_id             TEXT NOT NULL,
    scopes              TEXT NOT NULL,
    origin              TEXT NOT NULL,
    issued_at           REAL NOT NULL,
    expires_at          REAL NOT NULL,
    absolute_expires_at REAL NOT NULL,
    status              TEXT NOT NULL DEFAULT 'active'
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE counters (
    key      TEXT PRIMARY KEY,
    count    INTEGER NOT NULL,
    reset_at REAL NOT NULL
);

CREATE TABLE kv (
    namespace TEXT NOT NULL,
    key       TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (namespace, key)
);
