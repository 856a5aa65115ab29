/**
 * Servers-file fields every CDR source shares: its stable identity and where its billing starts.
 *
 * `id` keys the source's cursors and the dedupe of its call records (default: its `name`), so a server can be
 * renamed without being read and billed again from the start: keep the old name as its `id`. `billFrom` is where
 * billing starts; it is required before the first run of a source that already holds call records.
 */
import { z } from 'zod';
import { BILL_FROM_HINT, billFromMs } from '../../domain/billing/bill-from';

export const sourceFields = {
  id: z.string().optional(),
  /**
   * The WHMCS server IDs (Setup → Servers) that are this server: a service WHMCS assigns to one of them
   * (`serverid`) is billed and suspended here, whatever its product's server says.
   */
  whmcsServerIds: z.array(z.number().int().positive()).optional(),
  billFrom: z
    .string()
    .refine((v) => billFromMs(v, 'UTC') !== undefined, { message: `must be ${BILL_FROM_HINT}` })
    .optional(),
};

export const SOURCE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
