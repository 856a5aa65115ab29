-- Live credit control. One credit guard per PBX server holds the event-socket subscription and decides in memory;
-- what it decides is kept here, so a guard that restarts (another worker, after a crash) knows every call it had
-- reserved credit for, and a second guard of the same client on another PBX sees what this one holds.

-- One row per outbound call the guard lets through: from before answer it holds the first increment (two calls
-- ringing at once cannot both count on the same credit), from answer reserved_micros is the credit set aside for
-- the call (its cost up to reserved_seconds of billable time); at hang-up it becomes the call's rated cost. The row stops
-- counting against the client once the call's CDR is stored in cdrs (same source and origin id: from then on the
-- ledger counts it), and is released visibly (released_at, release_reason) when that is seen, or after a timeout
-- when the CDR never arrives.
CREATE TABLE credit_reservations (
  call_uuid         text PRIMARY KEY,
  server            text NOT NULL,
  -- The CDR source identity the call's record will be stored under (servers-file id, default its name).
  source            text NOT NULL,
  service_id        text NOT NULL,
  client_id         text NOT NULL,
  destination       text NOT NULL,
  started_at        timestamptz NOT NULL,
  -- NULL while the call rings.
  answered_at       timestamptz,
  reserved_seconds  integer NOT NULL,
  reserved_micros   bigint NOT NULL CHECK (reserved_micros >= 0),
  -- The next chunk could not be reserved: the call ends at reserved_seconds unless a top-up extends it.
  final             boolean NOT NULL DEFAULT false,
  state             text NOT NULL DEFAULT 'live' CHECK (state IN ('live', 'ended')),
  cut_due_at        timestamptz,
  cut_sent_at       timestamptz,
  warned_at         timestamptz,
  ended_at          timestamptz,
  billsec           integer,
  released_at       timestamptz,
  release_reason    text CHECK (release_reason IN ('billed', 'cdr_timeout', 'not_billable')),
  lease_epoch       bigint NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX credit_reservations_open_client_idx ON credit_reservations (client_id) WHERE released_at IS NULL;
CREATE INDEX credit_reservations_open_server_idx ON credit_reservations (server) WHERE released_at IS NULL;
CREATE INDEX credit_reservations_client_answered_idx ON credit_reservations (client_id, answered_at);

-- Exactly one guard acts for a server: a guard takes the lease (epoch + 1) when it starts and renews it every
-- second; a guard whose renewal or reservation write finds another epoch stops at once, so a worker that lost
-- Temporal but still reaches the PBX never cuts a call the new guard owns.
CREATE TABLE credit_guard_leases (
  server      text PRIMARY KEY,
  epoch       bigint NOT NULL,
  holder      text NOT NULL,
  renewed_at  timestamptz NOT NULL DEFAULT now()
);

-- Fraud and spend limits: a breach locks the client's new outbound calls (emergency numbers excepted) until an
-- admin clears it (the credit guard workflow's clearLimitBreach update).
CREATE TABLE credit_limit_breaches (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  client_id    text NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('max_concurrent_calls', 'max_spend_per_hour', 'max_spend_per_day', 'restricted_destination')),
  detail       text NOT NULL,
  server       text NOT NULL,
  call_uuid    text,
  detected_at  timestamptz NOT NULL DEFAULT now(),
  cleared_at   timestamptz,
  cleared_by   text,
  clear_reason text
);
-- One open breach per client and kind: a second guard finding the same breach adds nothing.
CREATE UNIQUE INDEX credit_limit_breaches_open_idx ON credit_limit_breaches (client_id, kind) WHERE cleared_at IS NULL;

-- Per-client overrides of the package's limits (null field = the package's value).
CREATE TABLE credit_limit_overrides (
  client_id   text PRIMARY KEY,
  limits      jsonb NOT NULL,
  updated_by  text,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Services suspended in `restrict` mode: nothing is switched off at the PBX (so emergency calls keep working); the
-- credit guard refuses every other outbound call of these extensions (or of the whole tenant when none are listed).
CREATE TABLE call_restrictions (
  server       text NOT NULL,
  tenant       text NOT NULL,
  -- Sorted; '{}' = the whole tenant.
  extensions   text[] NOT NULL,
  since        timestamptz NOT NULL DEFAULT now(),
  idempotency_key text,
  PRIMARY KEY (server, tenant, extensions)
);

ALTER TABLE services DROP CONSTRAINT services_suspend_mode_check;
ALTER TABLE services ADD CONSTRAINT services_suspend_mode_check CHECK (suspend_mode IN ('gateway', 'extension', 'restrict'));
ALTER TABLE lifecycle_mirror DROP CONSTRAINT lifecycle_mirror_suspend_mode_check;
ALTER TABLE lifecycle_mirror ADD CONSTRAINT lifecycle_mirror_suspend_mode_check CHECK (suspend_mode IN ('gateway', 'extension', 'restrict'));

-- What the guard's credit arithmetic reads per client: calls rated but not settled, and posted charges by time.
CREATE INDEX cdrs_unsettled_client_idx ON cdrs (client_id) WHERE charge_key IS NULL;
CREATE INDEX cdrs_client_started_idx ON cdrs (client_id, started_at);
CREATE INDEX whmcs_charges_client_posted_idx ON whmcs_charges (client_id, posted_at) WHERE status = 'posted';
CREATE INDEX billing_charges_open_client_idx ON billing_charges (client_id) WHERE status IN ('pending', 'awaiting_credit');
-- The guard watches for standings the service workflows read (a top-up) by time.
CREATE INDEX lifecycle_mirror_observed_idx ON lifecycle_mirror (standing_observed_at);
