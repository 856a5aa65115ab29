/**
 * How a PBX server's credit guard behaves: the `creditGuard` section of the server's entry in the servers file.
 * Money never appears here; the package decides prices, emergency numbers and limits.
 */
import { z } from 'zod';

export const creditGuardSettingsSchema = z.strictObject({
  /** Run a credit guard for this server. */
  enabled: z.boolean().default(false),
  /** Played to the caller `warningSeconds` before its credit runs out; "" for no tone. */
  warningSound: z
    .string()
    .regex(/^\S*$/, { message: 'must not contain spaces (FreeSWITCH splits uuid_broadcast arguments on them)' })
    .default('tone_stream://%(500,500,480,620);loops=2'),
  warningSeconds: z.number().int().min(0).max(600).default(30),
  /** Extend a call's reservation this long before it runs out, so a slow database never cuts a call with credit. */
  extendLeadSeconds: z.number().int().min(2).max(600).default(20),
  /** A call whose CDR has not been stored this long after hang-up stops holding credit (and is reported). */
  cdrTimeoutMinutes: z.number().int().min(1).max(7 * 24 * 60).default(120),
  /**
   * Also ask FreeSWITCH to hang every guarded call up at the end of its reservation (`sched_hangup`), moved on with
   * each extension: while no guard is connected (a worker died, the guard is being taken over) no call can talk past
   * its credit.
   */
  pbxBackstop: z.boolean().default(true),
  /**
   * Tell the PBX's dialplan, for every new outbound call, that it may go on to the carrier (`uuid_setvar <uuid>
   * voipbill_auth allow`): with integrations/fusionpbx/voipbill_authorize.lua in the dialplan a call waits for the
   * guard's decision before the carrier answers, also while a guard is being taken over.
   */
  authorizeCalls: z.boolean().default(true),
  /** Hang-up cause of a call cut at its credit boundary (FreeSWITCH cause names). */
  cutCause: z.string().regex(/^[A-Z_]+$/).default('ALLOTTED_TIMEOUT'),
  /** Hang-up cause of a call refused before answer. */
  refuseCause: z.string().regex(/^[A-Z_]+$/).default('OUTGOING_CALL_BARRED'),
});

export type CreditGuardSettings = z.output<typeof creditGuardSettingsSchema>;

export const DEFAULT_CREDIT_GUARD_SETTINGS: CreditGuardSettings = creditGuardSettingsSchema.parse({});
