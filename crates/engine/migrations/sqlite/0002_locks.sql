-- Short-lived named locks, e.g. around "find the customer in the ERP, else create it",
-- so that two orders from one new customer cannot both create them. A lock expires on
-- its own if its holder dies.
CREATE TABLE locks (
    name       TEXT    PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);
