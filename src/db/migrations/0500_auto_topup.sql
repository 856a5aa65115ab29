-- Auto top-up attempts (issue 9). The row is written, under its idempotency key, before WHMCS is called; the
-- invoice carries the key in its notes, so a retry after a timeout finds it instead of creating or capturing again.
CREATE TABLE auto_topups (
  idempotency_key  text PRIMARY KEY,
  client_id        text NOT NULL,
  service_id       text NOT NULL,
  amount_cents     bigint NOT NULL,
  status           text NOT NULL CHECK (status IN ('pending', 'captured', 'declined', 'skipped')),
  reason           text,
  invoice_id       bigint,
  capture_attempts integer NOT NULL DEFAULT 0,
  created_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz
);
CREATE INDEX auto_topups_client_day_idx ON auto_topups (client_id, created_at);
