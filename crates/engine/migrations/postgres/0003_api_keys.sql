-- API keys for machines (a shop integrating through the API, a script). Only a hash of
-- the secret is kept: the key is shown once, when it is made. A revoked key stays, so
-- the audit trail of who did what keeps its name.
CREATE TABLE api_keys (
    id          TEXT    PRIMARY KEY,
    secret_hash TEXT    NOT NULL,
    tenant      TEXT    NOT NULL,
    role        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX api_keys_tenant ON api_keys (tenant);
