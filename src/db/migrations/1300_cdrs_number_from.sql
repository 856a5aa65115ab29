-- Which column of the source's record gave the number a call was rated on (FusionPBX: last_arg or the B-leg's
-- destination_number, the number that went to the carrier; else destination_number, the dialled string with any
-- access code; caller_destination for inbound calls). NULL for sources that do not tell, and for calls stored before.
ALTER TABLE cdrs ADD COLUMN number_from text;
