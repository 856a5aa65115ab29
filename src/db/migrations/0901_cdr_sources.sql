-- The CDR sources voipbill has read, by their stable identity (servers-file `id`, default the server's name: the
-- `source` of cdrs, quarantine and billing_cursors). `fingerprint` is the source's kind and connection (host, port,
-- database, URL; never a secret): a server that shows up under a new identity with the connection of a source that
-- has billed is a rename without `id`, and is refused rather than read and billed again from the start.
CREATE TABLE cdr_sources (
  source_id      text PRIMARY KEY,
  name           text NOT NULL,
  kind           text NOT NULL,
  fingerprint    text,
  -- The billFrom in force at the last run (calls before it are never charged; requeue honours it too).
  bill_from      timestamptz,
  first_seen_at  timestamptz NOT NULL DEFAULT now(),
  last_seen_at   timestamptz NOT NULL DEFAULT now(),
  -- Set by `voipbill servers retire`: its connection may then be reused under another identity.
  retired_at     timestamptz
);
CREATE INDEX cdr_sources_fingerprint_idx ON cdr_sources (fingerprint) WHERE retired_at IS NULL;
