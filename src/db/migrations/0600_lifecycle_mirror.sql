-- What each service workflow last recorded, written by its own activities (standing reads, PBX suspend, unsuspend
-- and inspect) and by the sweep after a signal was delivered. The reconciliation sweep compares WHMCS and the PBX
-- with this mirror and wakes only the workflows whose facts changed. The workflow stays the source of truth; the
-- daily full sweep wakes every workflow regardless.
CREATE TABLE lifecycle_mirror (
  service_id            text PRIMARY KEY,
  standing              jsonb,
  standing_observed_at  timestamptz,
  config                jsonb,
  suspended             boolean NOT NULL DEFAULT false,
  suspend_mode          text CHECK (suspend_mode IN ('gateway', 'extension')),
  disabled              jsonb NOT NULL DEFAULT '[]',
  updated_at            timestamptz NOT NULL DEFAULT now()
);
