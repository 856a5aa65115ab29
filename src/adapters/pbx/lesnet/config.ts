/**
 * A LES.NET account in the servers file. Its CDR text file format is not publicly documented, so
 * the parser is driven entirely by `cdrFormat` — delimiter, header, column positions or names, time format and zone,
 * duration unit — and there is deliberately no default mapping: a guessed layout would bill wrong numbers silently.
 * Suspension is not part of LES.NET's known API; `suspend.via` can hand it to the service's PBX server instead.
 */
import { z } from 'zod';
import { sourceFields } from '../source-fields';
import { checkCredential, credentialFields } from '../credentials';
import { ianaTimeZone } from '../../../config';
import { maxCallSecondsField } from '../plausibility';

const column = z.union([z.number().int().min(0), z.string().min(1)]);
const timeZone = ianaTimeZone;

export const FIELD_NAMES = ['callId', 'start', 'answer', 'end', 'caller', 'destination', 'did', 'peer', 'billableDuration', 'totalDuration', 'disposition', 'direction', 'cost', 'currency'] as const;
export type CdrField = (typeof FIELD_NAMES)[number];

/**
 * Columns LES.NET may change when it re-issues a file with a corrected row: never part of a call's identity, or the
 * corrected row would be a second call and billed again.
 */
export const CORRECTABLE_FIELDS: readonly CdrField[] = ['answer', 'end', 'billableDuration', 'totalDuration', 'disposition', 'cost'];

/** A call's identity when the file has no call id: what the call is, not how long it lasted or what it cost. */
export const DEFAULT_IDENTITY_FIELDS: readonly CdrField[] = ['start', 'caller', 'destination', 'did', 'peer', 'direction'];

export const cdrFormatSchema = z
  .object({
    delimiter: z.enum([',', ';', 'tab', '|', 'whitespace']),
    quote: z.enum(['"', 'none']).default('"'),
    /** `names`: the first row (after `skipLines`) names the columns; columns may then be given by name. */
    header: z.enum(['none', 'names']).default('none'),
    skipLines: z.number().int().min(0).default(0),
    columns: z
      .object({
        callId: column.optional(),
        start: column,
        answer: column.optional(),
        end: column.optional(),
        caller: column,
        destination: column,
        did: column.optional(),
        peer: column.optional(),
        billableDuration: column.optional(),
        totalDuration: column.optional(),
        disposition: column.optional(),
        direction: column.optional(),
        cost: column.optional(),
        currency: column.optional(),
      })
      .strict()
      .refine((c) => c.billableDuration !== undefined || (c.answer !== undefined && c.end !== undefined), {
        message: 'map billableDuration, or both answer and end, so billable seconds can be computed',
      }),
    /** `YYYY-MM-DD HH:mm:ss`-style pattern (tokens YYYY MM DD HH mm ss SSS), or `iso`, `epoch`, `epoch-ms`. */
    timestampFormat: z.string().min(1),
    /** Zone of zone-less timestamps. Required: the file's zone is undocumented, so it is never assumed. */
    timeZone,
    durationUnit: z.enum(['seconds', 'minutes', 'milliseconds', 'hh:mm:ss']).default('seconds'),
    billsecRounding: z.enum(['ceil', 'floor', 'round']).default('ceil'),
    /** Fixed direction, or the direction column's values. */
    direction: z
      .union([z.enum(['inbound', 'outbound']), z.object({ values: z.record(z.string(), z.enum(['inbound', 'outbound', 'local'])) }).strict()])
      .default('outbound'),
    /** `duration`: billable > 0; `disposition`: the disposition column is one of `answeredValues`. */
    answered: z.enum(['duration', 'disposition']).default('duration'),
    answeredValues: z.array(z.string()).default(['ANSWERED']),
    /** Columns forming a call's identity when there is no call id; default {@link DEFAULT_IDENTITY_FIELDS}. */
    dedupeKey: z.array(z.enum(FIELD_NAMES)).min(1).optional(),
    /** Rows this much older than the newest call already returned are taken as returned (rotated files). */
    dedupeWindowHours: z.number().int().min(1).max(24 * 90).default(72),
  })
  .strict()
  .superRefine((f, ctx) => {
    if (f.answered === 'disposition' && f.columns.disposition === undefined) {
      ctx.addIssue({ code: 'custom', path: ['answered'], message: 'answered "disposition" needs columns.disposition' });
    }
    if (typeof f.direction === 'object' && f.columns.direction === undefined) {
      ctx.addIssue({ code: 'custom', path: ['direction'], message: 'direction values need columns.direction' });
    }
    (f.dedupeKey ?? []).forEach((field, i) => {
      if (CORRECTABLE_FIELDS.includes(field)) {
        ctx.addIssue({
          code: 'custom',
          path: ['dedupeKey', i],
          message: `"${field}" can change when LES.NET re-issues a corrected file, which would bill the corrected row as a second call; use columns that identify the call (${DEFAULT_IDENTITY_FIELDS.join(', ')})`,
        });
      }
    });
    if (f.header === 'none') {
      for (const [name, col] of Object.entries(f.columns)) {
        if (typeof col === 'string') ctx.addIssue({ code: 'custom', path: ['columns', name], message: `column "${col}" is a name, but header is "none": use a 0-based position` });
      }
    }
  });

export type CdrFormat = z.output<typeof cdrFormatSchema>;

const apiSchema = z
  .object({
    url: z.string().url().default('https://api.les.net/v1'),
    ...credentialFields('apiKey'),
    ...credentialFields('idKey'),
    timeoutMs: z.number().int().min(100).default(15_000),
  })
  .strict()
  .superRefine((v, ctx) => {
    checkCredential(v, 'apiKey', ctx);
    checkCredential(v, 'idKey', ctx);
  });

export const lesnetServerSchema = z
  .object({
    name: z.string(),
    kind: z.literal('lesnet'),
    /** Longest plausible billable call in seconds; longer ones are quarantined. Absent: CDR_MAX_CALL_SECONDS. */
    maxCallSeconds: maxCallSecondsField,
    ...sourceFields,
    /** Base for relative CDR links (a service's "CDR Link" is usually absolute). */
    cdrBaseUrl: z.string().url().default('https://portal.les.net'),
    /** CDR files polled when no service names one. */
    cdrFiles: z.array(z.object({ url: z.string().min(1), peer: z.string().optional(), dids: z.array(z.string()).optional() }).strict()).default([]),
    cdrFormat: cdrFormatSchema,
    api: apiSchema.optional(),
    timeoutMs: z.number().int().min(100).default(30_000),
    /** Page size in file rows. */
    pageSize: z.number().int().min(1).max(100_000).default(5000),
    /**
     * LES.NET has no known suspend API: name the PBX server whose gateways carry the services' calls. A LES.NET
     * service (`Peer | DID`) is suspended by switching off that PBX's gateway for its peer (the gateway's name or SIP
     * username is the peer ID), in `tenant` when given, else in whichever tenant of the PBX has it (FusionPBX).
     */
    suspend: z.object({ via: z.literal('pbx'), server: z.string().min(1), tenant: z.string().min(1).optional() }).strict().optional(),
  })
  .strict();

export type LesnetServerEntry = z.output<typeof lesnetServerSchema>;

export interface LesnetConfig extends LesnetServerEntry {
  apiKey?: string;
  idKey?: string;
}
