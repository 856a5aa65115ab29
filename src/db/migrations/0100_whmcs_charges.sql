-- Usage charges posted to WHMCS, exactly once. The row is committed before WHMCS is called; charge_id travels in the
-- credit-log description or the invoice notes, so a retry can find a charge WHMCS applied before timing out.
CREATE TABLE whmcs_charges (
  charge_id              text PRIMARY KEY,
  charge_key             text NOT NULL UNIQUE,
  client_id              bigint NOT NULL,
  mode                   text NOT NULL CHECK (mode IN ('credit', 'invoice')),
  amount_cents           bigint NOT NULL CHECK (amount_cents > 0),
  description            text NOT NULL,
  lines                  jsonb NOT NULL,
  status                 text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'posted', 'failed')),
  -- Calls to WHMCS that may have applied the charge; > 0 means look before posting again.
  attempts               integer NOT NULL DEFAULT 0,
  whmcs_ref              text,
  invoice_status         text,
  invoice_balance_cents  bigint,
  new_credit_cents       bigint,
  failure_reason         text,
  last_error             text,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  posted_at              timestamptz
);
CREATE INDEX whmcs_charges_client_idx ON whmcs_charges (client_id, created_at);
CREATE INDEX whmcs_charges_failed_idx ON whmcs_charges (created_at) WHERE status = 'failed';
