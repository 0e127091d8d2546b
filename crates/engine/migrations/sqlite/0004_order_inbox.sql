-- Orders handed over through Kontor's API (shops without a connector of their own).
-- The Idempotency-Key makes a retried submission return the first one's result; the
-- request hash tells a retry from a different order sent under the same key. `seq`
-- is the inbox's change cursor, read by the orders flow like a shop's order list.
CREATE TABLE submitted_orders (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant          TEXT   NOT NULL,
    connection      TEXT   NOT NULL,
    order_id        TEXT   NOT NULL,
    idempotency_key TEXT   NOT NULL,
    request_hash    TEXT   NOT NULL,
    body            TEXT   NOT NULL,
    submitted_at    BIGINT NOT NULL,
    UNIQUE (tenant, connection, idempotency_key),
    UNIQUE (tenant, connection, order_id)
);
