/**
 * How CDR source configuration failures are retried: never. `SourceConfigError` (src/billing/ingest.ts) names a
 * source that must not be read as configured (unknown to the servers file, a renamed server without its `id`, a
 * first read of a history without `billFrom`); the billing run stops and says what to set.
 */
export const SOURCE_CONFIG_ERROR_TYPES = ['SourceConfigError'] as const;
