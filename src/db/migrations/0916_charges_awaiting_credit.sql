-- A usage charge the client's credit cannot cover (WHMCS refuses to take credit below zero) is not a dead end: it
-- waits for credit under its key and amount, counts against the client's standing meanwhile, and is taken by the
-- first billing run after a top-up. 'failed' stays for refusals an admin must fix (then `charges retry`).
ALTER TABLE whmcs_charges DROP CONSTRAINT whmcs_charges_status_check;
ALTER TABLE whmcs_charges ADD CONSTRAINT whmcs_charges_status_check CHECK (status IN ('pending', 'posted', 'failed', 'awaiting_credit'));
ALTER TABLE billing_charges DROP CONSTRAINT billing_charges_status_check;
ALTER TABLE billing_charges ADD CONSTRAINT billing_charges_status_check CHECK (status IN ('pending', 'posted', 'failed', 'zero', 'awaiting_credit'));
CREATE INDEX billing_charges_awaiting_idx ON billing_charges (client_id) WHERE status = 'awaiting_credit';
DROP INDEX whmcs_charges_failed_idx;
CREATE INDEX whmcs_charges_failed_idx ON whmcs_charges (created_at) WHERE status IN ('failed', 'awaiting_credit');
