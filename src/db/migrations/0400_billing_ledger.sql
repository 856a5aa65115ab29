-- The CDR ledger of billing runs (issue 6). One row per rated call leg, deduplicated by (source, origin_id); the
-- cursor of each feed moves in the same transaction as the rows it covers, so a re-run re-reads, never skips.
CREATE TABLE cdrs (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source               text NOT NULL,
  origin_id            text NOT NULL,
  service_id           text NOT NULL,
  client_id            text NOT NULL,
  direction            text NOT NULL,
  caller               text NOT NULL,
  destination          text NOT NULL,
  e164                 text NOT NULL,
  number_kind          text NOT NULL,
  started_at           timestamptz NOT NULL,
  billsec              integer NOT NULL,
  billed_seconds       integer NOT NULL,
  -- Seconds removed by per-call free minutes (the rater).
  free_seconds         integer NOT NULL,
  rule                 text NOT NULL,
  prefix               text,
  -- Cost as rated, micro-units, rounded once per call.
  cost_micros          bigint NOT NULL,
  -- Per-call fixed part inside cost_micros (connection fee, flat): never covered by free minutes.
  fixed_micros         bigint NOT NULL DEFAULT 0,
  unmatched            text,
  run_id               text NOT NULL,
  -- Set when the call is settled: seconds covered by the per-period allowance, and what was charged for it.
  period_free_seconds  integer,
  charge_micros        bigint,
  charge_key           text,
  created_at           timestamptz NOT NULL DEFAULT now(),
  UNIQUE (source, origin_id)
);
CREATE INDEX cdrs_service_started_idx ON cdrs (service_id, started_at);
CREATE INDEX cdrs_unsettled_idx ON cdrs (service_id, id) WHERE charge_key IS NULL;

-- Resume point of each feed of each source.
CREATE TABLE billing_cursors (
  source      text NOT NULL,
  feed_key    text NOT NULL,
  cursor      text NOT NULL,
  run_id      text NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source, feed_key)
);

-- Records that are neither stored nor excluded: malformed at the source, unassigned to a service, unrateable.
CREATE TABLE quarantine (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source      text NOT NULL,
  origin_key  text NOT NULL,
  kind        text NOT NULL CHECK (kind IN ('malformed', 'unassigned', 'unrated')),
  reason      text NOT NULL,
  raw         jsonb,
  tenant      text,
  started_at  timestamptz,
  run_id      text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (source, origin_key)
);

-- Per service: the sub-cent remainder carried to the next charge, and the last settled CDR id.
CREATE TABLE service_charge_state (
  service_id      text PRIMARY KEY,
  carry_micros    bigint NOT NULL DEFAULT 0,
  last_watermark  bigint NOT NULL DEFAULT 0,
  updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Per-period free-minute allowance consumed, per service and period (YYYY-MM in the billing time zone).
CREATE TABLE period_free_usage (
  service_id    text NOT NULL,
  period        text NOT NULL,
  used_seconds  integer NOT NULL DEFAULT 0,
  PRIMARY KEY (service_id, period)
);

-- The outbox of usage charges: written in the same transaction that settles the CDRs, posted through
-- WhmcsCharging.postCharge (itself exactly-once by charge_key) until status leaves 'pending'.
CREATE TABLE billing_charges (
  charge_key    text PRIMARY KEY,
  client_id     text NOT NULL,
  service_ids   text[] NOT NULL,
  mode          text NOT NULL CHECK (mode IN ('credit', 'invoice')),
  amount_cents  bigint NOT NULL,
  description   text NOT NULL,
  lines         jsonb NOT NULL,
  status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'posted', 'failed', 'zero')),
  run_id        text NOT NULL,
  whmcs_charge  text,
  failure       text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  posted_at     timestamptz
);
CREATE INDEX billing_charges_pending_idx ON billing_charges (created_at) WHERE status = 'pending';
