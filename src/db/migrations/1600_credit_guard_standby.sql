-- Standby guard replicas (src/adapters/postgres/guard-primacy.ts): the active guard records the backend pid of the
-- session holding the server's advisory lock, so a standby can end that session when the guard's worker hangs
-- (its lease is no longer renewed) and take over.
ALTER TABLE credit_guard_leases ADD COLUMN lock_pid integer;
