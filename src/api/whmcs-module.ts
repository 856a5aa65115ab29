/**
 * The endpoint of the voipbill server module in WHMCS (integrations/whmcs/modules/servers/voipbill/voipbill.php):
 * WHMCS's Suspend, Unsuspend and Terminate buttons (and ModuleSuspend & co. from its API and automation), signed as
 * the hook's events are (HMAC-SHA256 over `<timestamp>.<raw body>`), answered once carried out. The answer is
 * `{"result":"success"}` or `{"result":"error","message":…}` with HTTP 200, which the module hands to WHMCS; a bad or
 * stale signature gets 401 and changes nothing.
 *
 * Body: `{"id": "<module call id>", "command": "suspend|unsuspend|terminate|create|test", "sent_at": "…",
 * "data": {"serviceid": N, "userid": N, "reason": "…"}}`. The id makes a repeated delivery harmless.
 */
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import type { Logger } from '../log';
import type { WhmcsModuleCommands } from '../ports/whmcs-events';
import { sendJson, WEBHOOK_MAX_BODY_BYTES, type Route } from './server';
import { checkWebhookHeaders, DEFAULT_WEBHOOK_PATH, SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhookSignature } from './webhook';

export const MODULE_PATH = `${DEFAULT_WEBHOOK_PATH}/module`;

const id = z.union([z.number().int().positive(), z.string().regex(/^[1-9]\d*$/)]).transform(String);
const command = z.object({
  id: z.string().min(1).max(200),
  command: z.enum(['suspend', 'unsuspend', 'terminate', 'create', 'test']),
  sent_at: z.string().optional(),
  // PHP's json_encode writes an empty array for empty data.
  data: z.preprocess((v) => (Array.isArray(v) && v.length === 0 ? {} : v), z
    .object({
      serviceid: id.optional(),
      userid: z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/)]).transform(String).optional(),
      reason: z.string().max(1000).optional(),
    })
    .default({})),
});

export interface WhmcsModuleRouteOptions {
  secrets: string | readonly string[];
  replayWindowSeconds?: number;
  commands: WhmcsModuleCommands;
  log: Logger;
  now?: () => number;
}

export function createWhmcsModuleRoutes(opts: WhmcsModuleRouteOptions): Route[] {
  const secrets = typeof opts.secrets === 'string' ? [opts.secrets] : [...opts.secrets];
  if (secrets.length === 0 || secrets.some((s) => Buffer.byteLength(s) < 32)) throw new RangeError('WEBHOOK_SECRET must be at least 32 bytes');
  const windowSeconds = opts.replayWindowSeconds ?? 300;
  const now = opts.now ?? (() => Math.floor(Date.now() / 1000));
  const log = opts.log.child({ component: 'whmcs-module' });
  const header = (req: IncomingMessage, name: string) => {
    const v = req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const refuse = (req: IncomingMessage, res: Parameters<Route['handler']>[1], reason: string) => {
    log.warn('module command refused', { reason, remote: req.socket.remoteAddress });
    sendJson(res, 401, { result: 'error', message: 'invalid signature', reason });
  };
  const authenticate: Route['authenticate'] = (req, res) => {
    const verdict = checkWebhookHeaders({ timestamp: header(req, TIMESTAMP_HEADER), signature: header(req, SIGNATURE_HEADER), nowSeconds: now(), windowSeconds });
    if (verdict.ok) return true;
    refuse(req, res, verdict.reason);
    return false;
  };
  const handler: Route['handler'] = async (req, res, body) => {
    const verdict = verifyWebhookSignature({ secrets, timestamp: header(req, TIMESTAMP_HEADER), signature: header(req, SIGNATURE_HEADER), body, nowSeconds: now(), windowSeconds });
    if (!verdict.ok) return refuse(req, res, verdict.reason);
    let c: z.output<typeof command>;
    try {
      c = command.parse(JSON.parse(body.toString('utf8')));
    } catch (err) {
      return sendJson(res, 400, { result: 'error', message: `malformed module command: ${err instanceof Error ? err.message.slice(0, 300) : 'unparsable'}` });
    }
    if (c.command === 'test') return sendJson(res, 200, { result: 'success', message: 'voipbill is reachable and accepts the signature' });
    const serviceId = c.data.serviceid;
    if (!serviceId) return sendJson(res, 200, { result: 'error', message: `${c.command}: the module call names no service` });
    const clientId = c.data.userid && c.data.userid !== '0' ? c.data.userid : undefined;
    const input = { requestId: c.id, serviceId, ...(clientId ? { clientId } : {}), ...(c.data.reason ? { reason: c.data.reason } : {}) };
    const outcome = await opts.commands[c.command](input);
    log.info('module command', { id: c.id, command: c.command, serviceId, ok: outcome.ok, ...(outcome.message ? { message: outcome.message } : {}) });
    sendJson(res, 200, outcome.ok ? { result: 'success', ...(outcome.message ? { message: outcome.message } : {}) } : { result: 'error', message: outcome.message });
  };
  return [{ method: 'POST', path: MODULE_PATH, maxBodyBytes: WEBHOOK_MAX_BODY_BYTES, authenticate, handler }];
}
