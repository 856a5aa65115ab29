-- Re-rating adjustments are keyed per service by this sequence, advanced in the transaction that writes one: a
-- content hash repeats when prices go A→B→A→B, and the repeated key would drop a real adjustment.
ALTER TABLE service_charge_state ADD COLUMN rerate_seq bigint NOT NULL DEFAULT 0;
