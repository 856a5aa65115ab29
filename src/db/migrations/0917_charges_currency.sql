-- The currency a charge's amounts are in: its package's. It is compared with the WHMCS client's currency before
-- anything is posted, and a mismatch is refused (kept as failed, with the reason), never charged. service_charge_state
-- keeps the currency of the service's last settlement, for outbox rows written without one (re-rating).
ALTER TABLE billing_charges ADD COLUMN currency text;
ALTER TABLE service_charge_state ADD COLUMN currency text;
