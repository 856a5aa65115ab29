-- The services voipbill bills and steers, as synced from WHMCS. The lifecycle workflow owns the state; this table
-- is the lookup for webhooks (client → services) and billing runs (tenant/extension/DID/peer → service).
CREATE TABLE services (
  service_id    text PRIMARY KEY,
  client_id     text NOT NULL,
  server        text,
  tenant        text,
  suspend_mode  text NOT NULL DEFAULT 'gateway' CHECK (suspend_mode IN ('gateway', 'extension')),
  extensions    text[] NOT NULL DEFAULT '{}',
  dids          text[] NOT NULL DEFAULT '{}',
  peer          text,
  package       text,
  kind          text NOT NULL DEFAULT 'fusionpbx',
  whmcs_status  text NOT NULL DEFAULT 'Active',
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX services_client_idx ON services (client_id);

-- One row per client message: the key is claimed before sending, so a retried activity never mails twice.
CREATE TABLE notifications (
  idempotency_key text PRIMARY KEY,
  client_id       text NOT NULL,
  service_id      text,
  template        text NOT NULL,
  channel         text NOT NULL,
  status          text NOT NULL CHECK (status IN ('sending', 'sent', 'failed')),
  error           text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  sent_at         timestamptz
);

-- What a suspend decided to switch off, fixed before the PBX is touched, so every retry of the activity reports
-- the same items (Temporal keeps only the last attempt's result).
CREATE TABLE pbx_actions (
  idempotency_key text PRIMARY KEY,
  action          text NOT NULL,
  server          text,
  items           jsonb NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  completed_at    timestamptz
);
