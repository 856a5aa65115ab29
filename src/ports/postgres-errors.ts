/**
 * How failures of voipbill's own PostgreSQL are retried: always. A restart, a dropped connection, a lock or
 * serialization conflict all pass, and every write is idempotent (keys, ON CONFLICT, compare-and-set cursors), so a
 * retried activity does exactly once what the failed attempt may have done; input is checked before it reaches
 * PostgreSQL. A plain constant, for symmetry with the other peers' lists.
 */
export const POSTGRES_NON_RETRYABLE_ERROR_TYPES = [] as const;
