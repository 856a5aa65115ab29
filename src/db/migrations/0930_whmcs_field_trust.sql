-- Who set each ictVoIP client custom field voipbill acts on, as WHMCS's activity log tells it (admin area, client
-- area, voipbill's own mirror write, or unknown), and the value voipbill acts on: a value a client set is not obeyed
-- (src/domain/lifecycle/field-trust.ts). Kept so the log is read only when a value changes, and so the value voipbill
-- trusted before a client's change is known.
CREATE TABLE whmcs_field_trust (
  client_id          text NOT NULL,
  field              text NOT NULL,
  raw_value          text NOT NULL,
  effective_value    text NOT NULL,
  set_by             text NOT NULL CHECK (set_by IN ('admin', 'client', 'voipbill', 'unknown')),
  log_id             bigint,
  logged_at          text,
  logged_by          text,
  unexplained_since  timestamptz,
  fallback_value     text,
  updated_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (client_id, field)
);
