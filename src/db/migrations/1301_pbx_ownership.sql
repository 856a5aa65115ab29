-- What voipbill may switch back on by itself. The sweep's drift repair used to re-enable every disabled gateway of an
-- active Gateway-mode tenant and every listed extension, including a spare gateway or an extension an admin had
-- turned off on purpose. Now it repairs only items voipbill itself disabled (recorded here when a suspension or a
-- repair decides to switch them off, before the PBX is touched; removed when voipbill switches them on again), or all
-- items of a product whose products-file entry says `"owns": "all"` (kept per service below).
CREATE TABLE pbx_disabled_items (
  -- Servers-file name; '' for a service that names none (the only server of its kind).
  server          text NOT NULL,
  -- Lower-case tenant (FusionPBX domain, Vodia tenant; a LES.NET service's peer).
  tenant          text NOT NULL,
  kind            text NOT NULL,
  item_id         text NOT NULL,
  service_id      text NOT NULL,
  idempotency_key text NOT NULL,
  disabled_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (server, tenant, kind, item_id)
);

-- The product's ownership of the service's PBX items: 'all' lets drift repair switch back on whatever of the service
-- it finds off; NULL (the default) only what voipbill disabled.
ALTER TABLE services ADD COLUMN owns text CHECK (owns IN ('all'));
