-- People who sign in to the console: local accounts (a password hash, never the
-- password) and the sessions of everyone signed in, local or through OIDC. A session is
-- found by the hash of its cookie, so the store alone cannot be used to sign in.
CREATE TABLE users (
    username      TEXT    PRIMARY KEY,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    -- JSON array of tenant ids; ["*"] for every tenant.
    tenants       TEXT    NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
    id_hash     TEXT    PRIMARY KEY,
    subject     TEXT    NOT NULL,
    role        TEXT    NOT NULL,
    tenants     TEXT    NOT NULL,
    -- Sent back in a header with every change the session makes (cross-site requests
    -- cannot read it, so cannot send it).
    csrf_token  TEXT    NOT NULL,
    -- `password` or `oidc`.
    method      TEXT    NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_subject ON sessions (subject);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Sign-ins through OIDC under way: the PKCE verifier of each, by its state.
CREATE TABLE oidc_logins (
    state       TEXT    PRIMARY KEY,
    verifier    TEXT    NOT NULL,
    return_to   TEXT    NOT NULL,
    created_at  BIGINT NOT NULL
);
