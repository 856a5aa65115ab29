/**
 * A Vodia PBX in the servers file. Several behaviours of Vodia's REST API are unconfirmed (page
 * numbering, list order, end-of-list signal, legacy login on v68+), so they are settings with tolerant defaults.
 */
import { z } from 'zod';
import { sourceFields } from '../source-fields';
import { checkCredential, credentialFields } from '../credentials';
import { maxCallSecondsField } from '../plausibility';

export const vodiaServerSchema = z
  .object({
    name: z.string(),
    kind: z.literal('vodia'),
    /** Longest plausible billable call in seconds; longer ones are quarantined. Absent: CDR_MAX_CALL_SECONDS. */
    maxCallSeconds: maxCallSecondsField,
    ...sourceFields,
    url: z.string().regex(/^https?:\/\/[^/\s]+\/?$/, { message: 'must be scheme://host[:port], e.g. https://pbx.example.com:8443' }),
    username: z.string().min(1),
    ...credentialFields('password'),
    /** `basic` (v70: Basic auth on every request) or `session` (legacy `PUT /rest/system/session` + cookie). */
    auth: z.enum(['basic', 'session']).default('basic'),
    /** The configured password is already the md5 hex that the legacy login sends. */
    passwordIsMd5: z.boolean().default(false),
    /** Legacy clients used PUT for writes; v70 uses POST. */
    writeMethod: z.enum(['POST', 'PUT']).default('POST'),
    /** Tenants polled when no feed names one; absent = every tenant from `GET /rest/system/domains`. */
    tenants: z.array(z.string().min(1)).optional(),
    timeoutMs: z.number().int().min(100).default(15_000),
    /** Self-signed PBX certificates are common; turning this off is the admin's explicit choice. */
    tlsVerify: z.boolean().default(true),
    cdr: z
      .object({
        /** `size` sent to `/cdrs`. */
        pageSize: z.number().int().min(1).max(5000).default(500),
        firstPage: z.number().int().min(0).max(1).default(1),
        /** List order of `/cdrs`; `auto` detects it from the ids. */
        order: z.enum(['auto', 'newest-first', 'oldest-first']).default('auto'),
        /** Ids this far below the highest one read are still accepted once (out-of-order writes). */
        overlapIds: z.number().int().min(0).max(100_000).default(200),
        maxPages: z.number().int().min(1).default(10_000),
        /** Numbers up to this many digits are extensions; longer ones are outside numbers/DIDs. */
        extensionMaxLength: z.number().int().min(1).max(15).default(6),
        /** Vodia has no billsec: it is `end − connect`, rounded this way to whole seconds. */
        billsecRounding: z.enum(['ceil', 'floor', 'round']).default('ceil'),
      })
      .strict()
      .default({ pageSize: 500, firstPage: 1, order: 'auto', overlapIds: 200, maxPages: 10_000, extensionMaxLength: 6, billsecRounding: 'ceil' }),
  })
  .strict()
  .superRefine((v, ctx) => checkCredential(v, 'password', ctx));

export type VodiaServerEntry = z.output<typeof vodiaServerSchema>;

export interface VodiaConfig extends VodiaServerEntry {
  passwordValue: string;
}
