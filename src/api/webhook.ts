/**
 * The WHMCS webhook: events from integrations/whmcs/voipbill_hooks.php, signed with HMAC-SHA256 over
 * `<timestamp>.<raw body>`. A bad or stale signature gets 401 and changes nothing; a valid event is recorded by its ID
 * (table whmcs_webhook_events) and dispatched once, so duplicate or replayed deliveries are harmless. An event's identity is
 * more than its ID (see webhook-identity.ts): the sending installation and the event's content are part of it.
 *
 * Headers: `X-Voipbill-Timestamp: <unix seconds>`, `X-Voipbill-Signature: sha256=<lower-case hex>`.
 * Body: `{"id": "<event id>", "event": "<name>", "sent_at": "<ISO-8601>", "installation": "<WHMCS System URL>",
 * "data": {...}}` (`installation` optional: hooks before it was added do not send it).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Pool } from 'pg';
import { z } from 'zod';
import type { Logger } from '../log';
import type { WhmcsEventDispatcher } from '../ports/whmcs-events';
import type { IncomingMessage } from 'node:http';
import { sendJson, WEBHOOK_MAX_BODY_BYTES, type Route } from './server';
import { createWebhookEventsRepository, type WebhookEventsRepository } from '../adapters/postgres/webhook-events.repository';
import { isLegacyRedelivery, webhookEventIdentity } from './webhook-identity';

export const SIGNATURE_HEADER = 'x-voipbill-signature';
export const TIMESTAMP_HEADER = 'x-voipbill-timestamp';
export const DEFAULT_WEBHOOK_PATH = '/webhooks/whmcs';

export function signWebhook(secret: string, timestamp: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/**
 * What can be checked before the body is read: both headers present and well formed, the timestamp fresh. Pure.
 * A delivery failing this is refused without its body being read.
 */
export function checkWebhookHeaders(input: { timestamp: string | undefined; signature: string | undefined; nowSeconds: number; windowSeconds: number }): VerifyResult {
  const { timestamp, signature } = input;
  if (!timestamp || !/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'missing or malformed timestamp' };
  if (Math.abs(input.nowSeconds - Number(timestamp)) > input.windowSeconds) {
    return { ok: false, reason: `timestamp outside the ${input.windowSeconds}s replay window` };
  }
  if (!signature || !/^sha256=[0-9a-f]{64}$/.test(signature)) return { ok: false, reason: 'missing or malformed signature' };
  return { ok: true };
}

/** Pure: no I/O, the clock is passed in. Several secrets allow rotation without downtime. */
export function verifyWebhookSignature(input: {
  secrets: readonly string[];
  timestamp: string | undefined;
  signature: string | undefined;
  body: Buffer;
  nowSeconds: number;
  windowSeconds: number;
}): VerifyResult {
  const headers = checkWebhookHeaders(input);
  if (!headers.ok) return headers;
  const timestamp = input.timestamp!;
  const given = Buffer.from(input.signature!, 'utf8');
  for (const secret of input.secrets) {
    const expected = Buffer.from(signWebhook(secret, timestamp, input.body), 'utf8');
    if (timingSafeEqual(given, expected)) return { ok: true };
  }
  return { ok: false, reason: 'signature does not match' };
}

const id = z.union([z.number().int(), z.string().regex(/^\d+$/)]).transform(String);
const envelope = z.object({
  id: z.string().min(1).max(200),
  event: z.string().min(1).max(100),
  sent_at: z.string().optional(),
  installation: z.string().max(300).optional(),
  data: z.record(z.string(), z.unknown()).default({}),
});
export type WebhookEnvelope = z.output<typeof envelope>;

type Dispatch =
  | { kind: 'credit'; run: (d: WhmcsEventDispatcher) => Promise<void> }
  | { kind: 'ignore'; reason: string };

function positiveId(value: unknown): string | null {
  const r = id.safeParse(value);
  return r.success && r.data !== '0' ? r.data : null;
}
const text = (v: unknown): string | undefined => (typeof v === 'string' || typeof v === 'number' ? String(v) : undefined);

const serviceActions: Record<string, 'create' | 'suspend' | 'unsuspend' | 'terminate'> = {
  'service.created': 'create',
  'service.suspended': 'suspend',
  'service.unsuspended': 'unsuspend',
  'service.terminated': 'terminate',
};

/** Pure mapping from a verified event to a dispatcher call. */
export function planDispatch(e: WebhookEnvelope): Dispatch {
  const eventId = e.id;
  const clientId = positiveId(e.data.userid);
  switch (e.event) {
    case 'invoice.paid': {
      if (e.data.is_topup !== true && e.data.is_topup !== 1 && e.data.is_topup !== '1') return { kind: 'ignore', reason: 'not a top-up invoice' };
      if (!clientId) return { kind: 'ignore', reason: 'invoice.paid without userid' };
      const amountHint = text(e.data.topup_amount);
      const invoiceId = positiveId(e.data.invoiceid) ?? undefined;
      return { kind: 'credit', run: (d) => d.creditChanged({ eventId, clientId, reason: 'topup', ...(amountHint ? { amountHint } : {}), ...(invoiceId ? { invoiceId } : {}) }) };
    }
    case 'transaction.added': {
      if (!clientId) return { kind: 'ignore', reason: 'transaction without a client' };
      const amountHint = text(e.data.amountin);
      return { kind: 'credit', run: (d) => d.creditChanged({ eventId, clientId, reason: 'transaction', ...(amountHint ? { amountHint } : {}) }) };
    }
    case 'client.edited':
      if (!clientId) return { kind: 'ignore', reason: 'client.edited without userid' };
      return { kind: 'credit', run: (d) => d.clientFieldsChanged({ eventId, clientId }) };
    default: {
      const action = serviceActions[e.event];
      if (!action) return { kind: 'ignore', reason: `event ${e.event} is not handled` };
      const serviceId = positiveId(e.data.serviceid);
      if (!serviceId) return { kind: 'ignore', reason: `${e.event} without serviceid` };
      return { kind: 'credit', run: (d) => d.serviceChanged({ eventId, serviceId, action, ...(clientId ? { clientId } : {}) }) };
    }
  }
}

const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Whether every string (and key) of a parsed JSON value can be stored by PostgreSQL (text and jsonb refuse them). */
export function storableText(value: unknown): boolean {
  if (typeof value === 'string') return !UNSTORABLE.test(value);
  if (Array.isArray(value)) return value.every(storableText);
  if (value && typeof value === 'object') return Object.entries(value).every(([k, v]) => !UNSTORABLE.test(k) && storableText(v));
  return true;
}

export interface WhmcsWebhookOptions {
  secrets: string | readonly string[];
  replayWindowSeconds?: number;
  pool: Pool;
  dispatcher: WhmcsEventDispatcher;
  log: Logger;
  path?: string;
  /** Largest delivery accepted; default {@link WEBHOOK_MAX_BODY_BYTES}. */
  maxBodyBytes?: number;
  /** Unix seconds; injected for tests. */
  now?: () => number;
  /** Told of every delivery answered as a duplicate (the webhook's duplicates metric). */
  onDuplicate?: (event: string) => void;
}

export function createWhmcsWebhookRoutes(opts: WhmcsWebhookOptions): Route[] {
  const secrets = typeof opts.secrets === 'string' ? [opts.secrets] : [...opts.secrets];
  if (secrets.length === 0 || secrets.some((s) => Buffer.byteLength(s) < 32)) {
    throw new RangeError('WEBHOOK_SECRET must be at least 32 bytes');
  }
  const windowSeconds = opts.replayWindowSeconds ?? 300;
  const now = opts.now ?? (() => Math.floor(Date.now() / 1000));
  const log = opts.log.child({ component: 'whmcs-webhook' });
  const events = createWebhookEventsRepository(opts.pool);

  const header = (req: IncomingMessage, name: string) => {
    const v = req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const authenticate: Route['authenticate'] = (req, res) => {
    const verdict = checkWebhookHeaders({ timestamp: header(req, TIMESTAMP_HEADER), signature: header(req, SIGNATURE_HEADER), nowSeconds: now(), windowSeconds });
    if (verdict.ok) return true;
    log.warn('webhook refused', { reason: verdict.reason, remote: req.socket.remoteAddress });
    sendJson(res, 401, { error: 'invalid signature', reason: verdict.reason });
    return false;
  };
  const handler: Route['handler'] = async (req, res, body) => {
    const verdict = verifyWebhookSignature({
      secrets,
      timestamp: header(req, TIMESTAMP_HEADER),
      signature: header(req, SIGNATURE_HEADER),
      body,
      nowSeconds: now(),
      windowSeconds,
    });
    if (!verdict.ok) {
      log.warn('webhook refused', { reason: verdict.reason, remote: req.socket.remoteAddress });
      return sendJson(res, 401, { error: 'invalid signature', reason: verdict.reason });
    }
    let event: WebhookEnvelope;
    try {
      event = envelope.parse(JSON.parse(body.toString('utf8')));
    } catch (err) {
      return sendJson(res, 400, { error: `malformed event: ${err instanceof Error ? err.message.slice(0, 200) : 'unparsable'}` });
    }
    if (!storableText(event)) return sendJson(res, 400, { error: 'malformed event: text with NUL or unpaired surrogates cannot be stored' });
    const plan = planDispatch(event);
    const result = await recordAndDispatch(events, opts.dispatcher, event, plan, log, opts.onDuplicate);
    sendJson(res, result.status, result.body);
  };
  return [{ method: 'POST', path: opts.path ?? DEFAULT_WEBHOOK_PATH, maxBodyBytes: opts.maxBodyBytes ?? WEBHOOK_MAX_BODY_BYTES, authenticate, handler }];
}

async function recordAndDispatch(
  events: WebhookEventsRepository,
  dispatcher: WhmcsEventDispatcher,
  event: WebhookEnvelope,
  plan: Dispatch,
  log: Logger,
  onDuplicate: ((event: string) => void) | undefined,
) {
  const identity = webhookEventIdentity(event);
  const record = { key: identity.key, id: event.id, event: event.event, installation: identity.installation, payload: event, isLegacyRedelivery: (stored: unknown) => isLegacyRedelivery(stored, event) };
  const done = await events.dispatchOnce(record, async () => {
    if (plan.kind === 'ignore') return { outcome: 'ignored', result: { status: 202, body: { status: 'ignored', id: event.id, reason: plan.reason } as Record<string, unknown> } };
    await plan.run(dispatcher);
    return { outcome: 'dispatched', result: { status: 200, body: { status: 'dispatched', id: event.id } as Record<string, unknown> } };
  });
  if (done.kind === 'duplicate') {
    // Said out loud: a top-up taken for a duplicate would otherwise wait silently for the next sweep.
    log.info('webhook duplicate', { id: event.id, event: event.event, installation: identity.installation, firstReceivedAt: done.firstReceivedAt.toISOString(), ...(done.legacy ? { storedBeforeIdentities: true } : {}) });
    onDuplicate?.(event.event);
    return { status: 200, body: { status: 'duplicate', id: event.id } };
  }
  if (done.kind === 'failed') {
    log.error('webhook dispatch failed', { id: event.id, event: event.event, error: done.error });
    return { status: 503, body: { error: 'dispatch failed; deliver again', id: event.id } };
  }
  log.info('webhook event', { id: event.id, event: event.event, outcome: done.result.body.status });
  return done.result;
}
