-- Vodia records now carry their tenant in origin_id (two tenants of one PBX may number their CDRs alike), and LES.NET
-- rows without a call id no longer hash the billable duration (a corrected re-export would have been a second call).
-- Rows stored before this migration keep the identities they had. So that a re-read of one of those calls is not
-- stored (and charged) again under its new identity, the ingest looks for it by content among the rows below these
-- marks, and only for calls that started no later than the newest of them.
CREATE TABLE cdr_identity_legacy (
  source             text PRIMARY KEY,
  max_cdr_id         bigint NOT NULL,
  max_quarantine_id  bigint NOT NULL,
  max_started_at     timestamptz NOT NULL
);

INSERT INTO cdr_identity_legacy (source, max_cdr_id, max_quarantine_id, max_started_at)
SELECT source, max(cdr_id), max(quarantine_id), max(started_at)
FROM (
  SELECT source, id AS cdr_id, 0::bigint AS quarantine_id, started_at FROM cdrs
  UNION ALL
  SELECT source, 0::bigint, id, started_at FROM quarantine WHERE kind IN ('unassigned', 'unrated') AND started_at IS NOT NULL
) AS stored
GROUP BY source;
