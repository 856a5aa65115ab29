-- Events received from the WHMCS hook, by event ID: a replayed or duplicated delivery is dispatched once.
CREATE TABLE whmcs_webhook_events (
  event_id       text PRIMARY KEY,
  event          text NOT NULL,
  payload        jsonb NOT NULL,
  received_at    timestamptz NOT NULL DEFAULT now(),
  dispatched_at  timestamptz,
  -- 'dispatched', 'ignored' (not an event voipbill acts on) or the last dispatch error.
  outcome        text
);
CREATE INDEX whmcs_webhook_events_received_idx ON whmcs_webhook_events (received_at);
