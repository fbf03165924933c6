-- Jobs wait in queues (ingest: zip expansions; render: renditions; cleanup: blob deletions),
-- each served by its own workers, and name their work: while a job with a dedup key waits in
-- its queue, the same work is not queued again (a running one may have read its input
-- already, so work queued meanwhile is kept). Existing jobs go to the queue of their kind,
-- without a dedup key. `claims` counts every claim of a job and is never reset: it is the
-- claim's fencing token (a worker whose lease ran out cannot finish a job claimed since).
ALTER TABLE jobs ADD COLUMN queue TEXT NOT NULL DEFAULT 'ingest';
ALTER TABLE jobs ADD COLUMN dedup_key TEXT;
ALTER TABLE jobs ADD COLUMN claims INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET queue = 'cleanup' WHERE kind = 'delete_blob';
DROP INDEX jobs_due;
CREATE INDEX jobs_due ON jobs (queue, status, run_at, id);
CREATE UNIQUE INDEX jobs_dedup ON jobs (dedup_key) WHERE status = 'queued';
CREATE INDEX jobs_failed ON jobs (id) WHERE status = 'failed';
