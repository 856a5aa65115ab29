/**
 * A FusionPBX server in the servers file. CDRs come from its PostgreSQL; suspension updates `v_gateways` /
 * `v_extensions` there and then drives FreeSWITCH over the event socket. FusionPBX caches the Sofia config and the
 * user directory, and with its default `cache.method = file` no event-socket command can delete those cache files
 *, so the admin must say how voipbill reaches the cache: `memcache` (PBX switched to memcache),
 * `file` (the PBX's cache directory mounted where voipbill runs), or `none` (accept stale cache entries).
 */
import { z } from 'zod';
import { sourceFields } from '../source-fields';
import { checkCredential, credentialFields } from '../credentials';
import { maxCallSecondsField } from '../plausibility';
import { creditGuardSettingsSchema } from '../../../domain/credit/guard-settings';

/**
 * Which channel-event headers name a call's tenant and extension, and which dialplan contexts are carriers'. FusionPBX
 * copies the directory user's variables (domain_name, user_name…) onto an authenticated phone's channel; which of
 * them a given install sets before CHANNEL_CREATE is not documented, so the guard takes the first header present.
 */
const liveEventsSchema = z
  .object({
    tenantHeaders: z.array(z.string().min(1)).min(1).default(['variable_domain_name', 'Caller-Context']),
    extensionHeaders: z.array(z.string().min(1)).min(1).default(['variable_user_name', 'Caller-Username', 'Caller-Caller-ID-Number']),
    /** Contexts of calls arriving from carriers (never a client's outbound call). */
    publicContexts: z.array(z.string().min(1)).default(['public']),
  })
  .strict();

/** The credit guard of this FusionPBX (live calls over the event socket). */
const fusionCreditGuardSchema = creditGuardSettingsSchema.extend({ events: liveEventsSchema.prefault({}) });

const port = z.number().int().min(1).max(65535);

export const fusionServerSchema = z
  .object({
    name: z.string(),
    kind: z.literal('fusionpbx'),
    /** Longest plausible billable call in seconds; longer ones are quarantined. Absent: CDR_MAX_CALL_SECONDS. */
    maxCallSeconds: maxCallSecondsField,
    ...sourceFields,
    database: z
      .object({
        host: z.string().min(1),
        port: port.default(5432),
        database: z.string().min(1).default('fusionpbx'),
        user: z.string().min(1).default('fusionpbx'),
        ...credentialFields('password'),
        ssl: z.enum(['disable', 'require', 'verify-full']).default('disable'),
        maxConnections: z.number().int().min(1).max(50).default(4),
        statementTimeoutMs: z.number().int().min(1000).default(120_000),
      })
      .strict()
      .superRefine((v, ctx) => checkCredential(v, 'password', ctx)),
    eventSocket: z
      .object({
        host: z.string().min(1),
        port: port.default(8021),
        ...credentialFields('password'),
        connectTimeoutMs: z.number().int().min(100).default(3000),
        replyTimeoutMs: z.number().int().min(100).default(10_000),
      })
      .strict()
      .superRefine((v, ctx) => checkCredential(v, 'password', ctx)),
    cache: z.discriminatedUnion(
      'method',
      [
        z.object({ method: z.literal('memcache') }).strict(),
        z.object({ method: z.literal('file'), directory: z.string().min(1) }).strict(),
        z.object({ method: z.literal('none') }).strict(),
      ],
      { error: 'cache.method must be "memcache", "file" (with "directory": the PBX cache directory as mounted here) or "none"' },
    ),
    cdr: z
      .object({
        /** Rows read per query; large pages keep 1M-row backfills fast. */
        pageSize: z.number().int().min(1).max(100_000).default(10_000),
        /** Rows that arrive (commit) up to this long after newer rows are still picked up, exactly once. */
        overlapSeconds: z.number().int().min(0).max(86_400).default(120),
        /** Arrival keys remembered in the cursor to drop overlap re-reads; bounds the cursor to ~40 bytes each. */
        dedupeMemory: z.number().int().min(0).max(20_000).default(1000),
        /** `auto`: `insert_date` when the column exists (5.1+), else `end_epoch`. */
        arrivalColumn: z.enum(['auto', 'insert_date', 'end_epoch']).default('auto'),
        /**
         * Rows with NULL `insert_date` (every CDR imported before the upgrade to 5.1, which added the column without
         * filling it in): `read` them once by `end_epoch`, or `skip` them (counted and reported by `servers test` and
         * the billing run's progress).
         */
        nullInsertDate: z.enum(['read', 'skip']).default('read'),
        exclude: z
          .object({
            bLegs: z.boolean().default(true),
            loseRace: z.boolean().default(true),
            ccAgentLegs: z.boolean().default(true),
            /** Ring-group / follow-me extra legs (billing policy: they may be real carrier cost). */
            originatingLegs: z.boolean().default(false),
          })
          .strict()
          .default({ bLegs: true, loseRace: true, ccAgentLegs: true, originatingLegs: false }),
      })
      .strict()
      .default({ pageSize: 10_000, overlapSeconds: 120, dedupeMemory: 1000, arrivalColumn: 'auto', nullInsertDate: 'read', exclude: { bLegs: true, loseRace: true, ccAgentLegs: true, originatingLegs: false } }),
    suspend: z
      .object({
        /** Extension mode: `flush_inbound_reg` so phones must re-register (and fail) at once. */
        flushRegistrations: z.boolean().default(true),
        registrationProfile: z.string().min(1).default('internal'),
        /** Gateway mode: `uuid_kill` calls in progress through the gateway (`show channels`, matched by gateway UUID). */
        killActiveCalls: z.boolean().default(false),
        /** Send the `fusion::file` / `fusion::memcache` CUSTOM events FusionPBX itself sends on cache deletes. */
        sendCacheEvents: z.boolean().default(true),
      })
      .strict()
      .default({ flushRegistrations: true, registrationProfile: 'internal', killActiveCalls: false, sendCacheEvents: true }),
    creditGuard: fusionCreditGuardSchema.optional(),
  })
  .strict();

export type FusionServerEntry = z.output<typeof fusionServerSchema>;

/** The entry with its credentials resolved; lives only in memory. */
export interface FusionPbxConfig extends FusionServerEntry {
  databasePassword: string;
  eventSocketPassword: string;
}
