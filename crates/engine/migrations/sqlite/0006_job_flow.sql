-- The flow a job belongs to (its payload's `flow`), as a column: the console counts and
-- lists work per flow, and follows activity over time.
ALTER TABLE jobs ADD COLUMN flow TEXT;
UPDATE jobs SET flow = json_extract(payload, '$.flow') WHERE json_valid(payload);
CREATE INDEX jobs_by_flow ON jobs (tenant, flow, state, finished_at);
CREATE INDEX jobs_by_update ON jobs (tenant, updated_at);
CREATE INDEX links_by_creation ON links (tenant, kind, created_at);
