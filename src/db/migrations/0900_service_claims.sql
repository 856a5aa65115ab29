-- When a service's claim on calls begins and ends. registered_on: the WHMCS registration date (a local date in
-- BILLING_TIME_ZONE); calls before its midnight are never the service's. terminated_at: when voipbill first saw the
-- service Terminated, Cancelled or Fraud (WHMCS's API returns no termination date); calls after it are never the
-- service's, so a tenant that passes to another client is never billed to the former one.
ALTER TABLE services ADD COLUMN registered_on date;
ALTER TABLE services ADD COLUMN terminated_at timestamptz;
-- Services already ended: the last sync that saw them so is the earliest moment voipbill can vouch for.
UPDATE services SET terminated_at = updated_at WHERE whmcs_status IN ('Terminated', 'Cancelled', 'Fraud');
