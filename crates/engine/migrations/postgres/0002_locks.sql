-- Short-lived named locks, e.g. around "find the customer in the ERP, else create it",
-- so that two orders from one new customer cannot both create them. A lock taken by a
-- job lives as long as that job's lease: when its process dies, the lock is free as
-- soon as the lease expires. Other locks expire at `expires_at`.
CREATE TABLE locks (
    name        TEXT    PRIMARY KEY,
    holder      TEXT    NOT NULL,
    job_id      BIGINT,
    lease_token TEXT,
    expires_at  BIGINT NOT NULL
);
