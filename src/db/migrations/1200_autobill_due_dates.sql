-- Autobill on each service's WHMCS due date. A usage charge can now also reach WHMCS as a billable item
-- (AddBillableItem), which WHMCS's cron folds into the invoice it creates; how it is posted (invoice action, due
-- date) travels with the charge in `options`.
ALTER TABLE whmcs_charges DROP CONSTRAINT whmcs_charges_mode_check;
ALTER TABLE whmcs_charges ADD CONSTRAINT whmcs_charges_mode_check CHECK (mode IN ('credit', 'invoice', 'billable'));
ALTER TABLE whmcs_charges ADD COLUMN options jsonb;
ALTER TABLE billing_charges DROP CONSTRAINT billing_charges_mode_check;
ALTER TABLE billing_charges ADD CONSTRAINT billing_charges_mode_check CHECK (mode IN ('credit', 'invoice', 'billable'));
ALTER TABLE billing_charges ADD COLUMN options jsonb;

-- One row per (service, period) autobill has billed: written in the transaction that settles the period's calls
-- and writes its charge, so a retry, a killed worker or a second run of the same day finds it and bills nothing
-- again. `notes` says why a period differs from (due date - cycle, due date) as WHMCS shows it now.
CREATE TABLE autobill_periods (
  service_id    text NOT NULL,
  period_start  date NOT NULL,
  period_end    date NOT NULL,
  client_id     text NOT NULL,
  charge_key    text,
  amount_cents  bigint NOT NULL DEFAULT 0,
  calls         integer NOT NULL DEFAULT 0,
  notes         text[] NOT NULL DEFAULT '{}',
  run_id        text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (service_id, period_end)
);
CREATE INDEX autobill_periods_client_idx ON autobill_periods (client_id, period_end);

-- The WHMCS product's tax flag ("Apply Tax"), read from a renewal invoice line of one of its services: no API
-- action returns it. Packages with `taxed: "product"` tax usage lines by it.
CREATE TABLE whmcs_product_tax (
  product_id  bigint PRIMARY KEY,
  taxed       boolean NOT NULL,
  invoice_id  bigint NOT NULL,
  read_at     timestamptz NOT NULL DEFAULT now()
);

-- Client messages go once per client and crossing, whichever of its services notices first. Every standing
-- voipbill reads or is sent records whether the client is at or below its Low Balance Threshold ('low') and whether
-- the balance rules would suspend it ('zero'); a new crossing starts a new episode, and a message's key names it.
CREATE TABLE client_balance_episodes (
  client_id        text NOT NULL,
  kind             text NOT NULL CHECK (kind IN ('low', 'zero')),
  episode          integer NOT NULL DEFAULT 0,
  active           boolean NOT NULL DEFAULT false,
  started_at       timestamptz,
  observed_at      text NOT NULL DEFAULT '',
  PRIMARY KEY (client_id, kind)
);
