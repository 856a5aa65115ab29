-- Rating by time periods (peak/off-peak, holidays), InitialRate, caps and rounding policies.
-- answered_at: the instant the billed seconds are laid on the clock from, so a re-rate finds the same periods as
--   ingest did. NULL = not recorded (rows stored before this column, unanswered calls): the call start is used.
-- periods: the Period names of the deck rows that priced the call, in the order used; NULL = none (default rows,
--   non-deck rates, and every row stored before this column).
-- segments_micros: connection fee plus the exact sum of the priced segments, half-up to micro-units: the cost
--   before the cap and the package's rounding. NULL on rows stored before this column, where it equals cost_micros.
ALTER TABLE cdrs ADD COLUMN answered_at timestamptz;
ALTER TABLE cdrs ADD COLUMN periods text[];
ALTER TABLE cdrs ADD COLUMN segments_micros bigint;
