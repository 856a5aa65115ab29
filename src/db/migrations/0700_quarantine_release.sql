-- A quarantined call that could be billed after all (its service was added, its package fixed) is released into
-- `cdrs` by `voipbill cdrs requeue`; the quarantine row stays, marked with when and by which requeue.
ALTER TABLE quarantine ADD COLUMN released_at timestamptz;
ALTER TABLE quarantine ADD COLUMN released_run_id text;
CREATE INDEX quarantine_pending_idx ON quarantine (source, id) WHERE released_at IS NULL;
