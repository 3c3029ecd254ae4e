-- deviceflow server schema, version 3: users and clients managed with `deviceflow admin`
-- (beside the configuration file's), and where each refresh token was asked for (the
-- "your devices" page). Booleans are 0/1 integers, as both databases store them alike.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    username      TEXT NOT NULL,
    username_key  TEXT NOT NULL,
    mail          TEXT,
    mail_key      TEXT,
    password_hash TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    enabled       INTEGER NOT NULL,
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL,
    UNIQUE (tenant_id, username_key)
);
CREATE INDEX users_mail ON users (tenant_id, mail_key);

CREATE TABLE clients (
    client_id   TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    public      INTEGER NOT NULL,
    secret_hash TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    enabled     INTEGER NOT NULL,
    created_at  REAL NOT NULL
);
CREATE INDEX clients_tenant ON clients (tenant_id);

ALTER TABLE refresh_tokens ADD COLUMN ip TEXT;
ALTER TABLE refresh_tokens ADD COLUMN user_agent TEXT;
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id)
