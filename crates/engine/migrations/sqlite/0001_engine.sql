-- Kontor's durable state. Timestamps are microseconds since the Unix epoch (UTC).

-- The job queue. A job is waiting (pending, parked), running, or finished
-- (succeeded, skipped, superseded); finished jobs never change again.
CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant           TEXT    NOT NULL,
    kind             TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    original_payload TEXT,
    dedupe_key       TEXT,
    ordering_key     TEXT,
    priority         INTEGER NOT NULL DEFAULT 0,
    state            TEXT    NOT NULL,
    run_at           INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    lease_token      TEXT,
    lease_expires_at INTEGER,
    worker           TEXT,
    run_id           TEXT,
    error_class      TEXT,
    error_code       TEXT,
    errors           TEXT    NOT NULL DEFAULT '[]',
    outcome          TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER
);
-- One waiting job per dedupe key: a repeated webhook or poll joins the job already waiting.
CREATE UNIQUE INDEX jobs_waiting_dedupe ON jobs (tenant, dedupe_key)
    WHERE dedupe_key IS NOT NULL AND state IN ('pending', 'parked');
CREATE INDEX jobs_ready ON jobs (priority DESC, run_at, id) WHERE state = 'pending';
CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_ordering ON jobs (tenant, ordering_key, id)
    WHERE ordering_key IS NOT NULL AND state IN ('pending', 'running', 'parked');
CREATE INDEX jobs_by_tenant ON jobs (tenant, state, id);
CREATE INDEX jobs_by_run ON jobs (run_id) WHERE run_id IS NOT NULL;

-- Kontor's copy of each canonical record it has seen, and the keys it can be matched by.
CREATE TABLE entities (
    tenant       TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    data         TEXT    NOT NULL,
    content_hash TEXT    NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant, kind, id)
);
CREATE TABLE entity_keys (
    tenant    TEXT NOT NULL,
    kind      TEXT NOT NULL,
    key_type  TEXT NOT NULL,
    key_value TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    PRIMARY KEY (tenant, kind, key_type, key_value, entity_id)
);
CREATE INDEX entity_keys_by_entity ON entity_keys (tenant, kind, entity_id);

-- Links (bindings): one record in one connected system ↔ one Kontor entity.
-- Both directions are unique, enforced here rather than checked in code.
CREATE TABLE links (
    tenant      TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    system      TEXT    NOT NULL,
    external_id TEXT    NOT NULL,
    entity_id   TEXT    NOT NULL,
    sent_hash   TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant, kind, system, external_id),
    UNIQUE (tenant, kind, system, entity_id)
);
CREATE INDEX links_by_entity ON links (tenant, kind, entity_id);

-- Where each incremental sync stopped.
CREATE TABLE cursors (
    tenant     TEXT    NOT NULL,
    flow       TEXT    NOT NULL,
    system     TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, flow, system)
);

-- The next due time of each scheduled flow; advanced with compare-and-set so that
-- several processes fire each tick once.
CREATE TABLE schedules (
    tenant  TEXT    NOT NULL,
    flow    TEXT    NOT NULL,
    next_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, flow)
);

-- Integration configuration (tenants, connections, flows, mappings): the store is the
-- source of truth at run time; `kontor config apply` writes here.
CREATE TABLE tenant_configs (
    tenant     TEXT    PRIMARY KEY,
    document   TEXT    NOT NULL,
    revision   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
