-- Re-rating must rate a stored call from exactly the inputs ingest rated it from. The voicemail flag (the
-- `[voicemail]` exclude token) was not kept, so a re-rate charged voicemail calls the package excludes.
-- NULL = not recorded (rows stored before this column): where the stored rule shows the voicemail exclusion decided
-- the call, the flag was true; elsewhere it cannot be told from the row, and re-rating keeps the treatment the call
-- was stored with (src/domain/billing/ledger-call.ts, rateStoredCall).
ALTER TABLE cdrs ADD COLUMN voicemail boolean;
UPDATE cdrs SET voicemail = true WHERE lower(rule) = 'excluded:[voicemail]';
