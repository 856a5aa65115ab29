-- A webhook event is known by its identity: the WHMCS installation that sent it, the hook's event ID and the
-- event's own content (amounts, dates), hashed into event_id. Event IDs alone (invoice and transaction numbers) are
-- reused by a WHMCS restored from a backup, by a second WHMCS, or by a demo whose fake WHMCS started numbering again.
-- Rows stored before this migration keep the bare event ID as their key and are marked `legacy`: a re-delivery of
-- such an event is recognised by its ID and content, while a new event that merely reuses the ID is not.
ALTER TABLE whmcs_webhook_events
  ADD COLUMN legacy boolean NOT NULL DEFAULT true,
  ADD COLUMN delivery_id text,
  ADD COLUMN installation text;
ALTER TABLE whmcs_webhook_events ALTER COLUMN legacy SET DEFAULT false;
CREATE INDEX whmcs_webhook_events_delivery_idx ON whmcs_webhook_events (delivery_id) WHERE delivery_id IS NOT NULL;
