-- The VoIP Suspended field is one per WHMCS client, written by the workflows of all the client's services. The value
-- voipbill last wrote (recorded before the WHMCS call) tells a read whether the field holds voipbill's own mirror of
-- the state or an admin's override, whichever service wrote it.
CREATE TABLE client_field_writes (
  client_id   text PRIMARY KEY,
  value       text NOT NULL CHECK (value IN ('yes', 'no', 'none')),
  written_at  timestamptz NOT NULL DEFAULT now()
);
