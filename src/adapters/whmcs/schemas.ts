/** zod schemas for the WHMCS responses voipbill reads; unknown keys are dropped, scalars coerced (coerce.ts). */
import { z } from 'zod';

/** A flag as WHMCS versions send it: true/false, 1/0, "1"/"0", "on"/"" (absent: false). */
const whmcsFlag = z
  .union([z.boolean(), z.number(), z.string()])
  .optional()
  .transform((v) => v === true || v === 1 || (typeof v === 'string' && ['1', 'true', 'on', 'yes'].includes(v.trim().toLowerCase())));
import { WhmcsProtocolError } from './errors';
import { whmcsDate, whmcsInt, whmcsList, whmcsMoney, whmcsOptionalInt, whmcsOptionalMoney, whmcsText } from './coerce';

export const paging = {
  totalresults: whmcsOptionalInt,
  startnumber: whmcsOptionalInt,
  numreturned: whmcsOptionalInt,
};

const clientCustomField = z.object({ id: whmcsInt, value: whmcsText });

export const clientDetailsResponse = z.object({
  client: z.object({
    id: whmcsInt.optional(),
    userid: whmcsInt.optional(),
    client_id: whmcsInt.optional(),
    firstname: whmcsText,
    lastname: whmcsText,
    fullname: whmcsText,
    companyname: whmcsText,
    email: whmcsText,
    status: whmcsText,
    currency_code: z.string().nullable().optional(),
    credit: whmcsMoney,
    customfields: whmcsList('customfield', clientCustomField).optional(),
  }),
});

export const clientsListResponse = z.object({
  ...paging,
  clients: whmcsList('client', z.object({ id: whmcsInt, email: whmcsText, status: whmcsText })),
});

const invoiceRow = z.object({
  id: whmcsInt,
  userid: whmcsInt,
  status: whmcsText,
  date: whmcsDate,
  duedate: whmcsDate,
  datepaid: whmcsDate,
  subtotal: whmcsOptionalMoney,
  total: whmcsMoney,
  credit: whmcsOptionalMoney,
  notes: whmcsText,
});

export const invoicesListResponse = z.object({ ...paging, invoices: whmcsList('invoice', invoiceRow) });

export const invoiceResponse = z.object({
  invoiceid: whmcsInt,
  userid: whmcsInt,
  status: whmcsText,
  date: whmcsDate,
  duedate: whmcsDate,
  datepaid: whmcsDate,
  subtotal: whmcsOptionalMoney,
  credit: whmcsOptionalMoney,
  total: whmcsMoney,
  balance: whmcsMoney,
  notes: whmcsText,
  items: whmcsList(
    'item',
    z.object({ id: whmcsInt, type: whmcsText, relid: whmcsOptionalInt, description: whmcsText, amount: whmcsMoney, taxed: whmcsFlag }),
  ),
});

export const productsListResponse = z.object({
  ...paging,
  products: whmcsList(
    'product',
    z.object({
      id: whmcsInt,
      clientid: whmcsInt,
      pid: whmcsInt,
      name: whmcsText,
      groupname: whmcsText,
      status: whmcsText,
      domain: whmcsText,
      username: whmcsText,
      dedicatedip: whmcsText,
      regdate: whmcsDate,
      billingcycle: whmcsText,
      nextduedate: whmcsDate,
      recurringamount: whmcsOptionalMoney,
      // The service's server assignment (0 or absent: none), as ictVoIP reads $params['serverid'].
      serverid: whmcsOptionalInt.optional(),
      customfields: whmcsList('customfield', z.object({ id: whmcsInt, name: whmcsText, value: whmcsText })).optional(),
    }),
  ),
});

export const creditsResponse = z.object({
  credits: whmcsList(
    'credit',
    z.object({ id: whmcsInt, date: whmcsDate, description: whmcsText, amount: whmcsMoney, relid: whmcsOptionalInt }),
  ),
});

/** GetActivityLog: WHMCS 8 adds `clientId`, `userId` and `adminId` to each entry; earlier versions have none of them. */
export const activityLogResponse = z.object({
  totalresults: whmcsOptionalInt,
  startnumber: whmcsOptionalInt,
  activity: whmcsList(
    'entry',
    z.object({
      id: whmcsInt,
      adminId: whmcsOptionalInt,
      userId: whmcsOptionalInt,
      date: whmcsText,
      description: whmcsText,
      username: whmcsText,
    }),
  ),
});

export const addCreditResponse = z.object({ newbalance: whmcsMoney });
export const addBillableItemResponse = z.object({ billableid: whmcsInt });
export const emailTemplatesResponse = z.object({
  emailtemplates: whmcsList('emailtemplate', z.object({ id: whmcsInt, name: whmcsText, subject: whmcsText, custom: whmcsFlag })),
});
export const createInvoiceResponse = z.object({ invoiceid: whmcsInt });

/** Parses a success body; a shape mismatch is a protocol problem, reported with the path of the bad field. */
export function parseResponse<T extends z.ZodType>(schema: T, action: string, body: unknown): z.output<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = `${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`;
  throw new WhmcsProtocolError(`WHMCS ${action} returned an unexpected shape at ${where}`, action, 200);
}
