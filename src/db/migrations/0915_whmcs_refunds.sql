-- Refunds (re-rating lowered a price) go through the same exactly-once ledger as charges: a row committed before
-- WHMCS is called, the advisory lock, a look in WHMCS before any retry. A refund is a negative amount, and goes back
-- to the client's credit (AddCredit type=add), never onto an invoice.
ALTER TABLE whmcs_charges DROP CONSTRAINT whmcs_charges_amount_cents_check;
ALTER TABLE whmcs_charges ADD CONSTRAINT whmcs_charges_amount_cents_check
  CHECK (amount_cents > 0 OR (amount_cents < 0 AND mode = 'credit'));
