-- Append-only record of what voipbill did and why: lifecycle transitions, admin actions, smoke checks.
CREATE TABLE audit_log (
  id          bigserial PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  kind        text NOT NULL,
  subject     text NOT NULL,
  -- Lets an activity retried by Temporal write its row once.
  dedupe_key  text UNIQUE,
  detail      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_subject_idx ON audit_log (subject, at);
