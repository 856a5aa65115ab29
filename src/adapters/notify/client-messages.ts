/**
 * Client messages (low balance, zero balance, usage, top-up), exactly once per idempotency key: the key is claimed in
 * PostgreSQL first (a claimed-but-unsent key is sent again), then the message goes through WHMCS SendEmail with the
 * template's name and only the merge fields WHMCS lacks (NOTIFY_CHANNEL=whmcs) or by SMTP with the built-in text
 * (NOTIFY_CHANNEL=smtp). The low- and zero-balance messages are about the client's credit, so their key is the
 * client's crossing (client_balance_episodes), not the service's: a client with three services gets one mail.
 */
import {
  clientConditions,
  clientTemplateKind,
  mergeFields,
  renderBuiltInTemplate,
  whmcsCustomVars,
  whmcsTemplateName,
  type TemplateName,
  type WhmcsTemplateId,
} from '../../domain/lifecycle/notifications';
import type { ClientStanding } from '../../domain/lifecycle/types';
import type { Mailer } from '../../ports/mailer';
import type { WhmcsGateway } from '../../ports/whmcs';
import type { NotificationsRepository } from '../postgres/notifications.repository';
import type { ClientEpisodesRepository } from '../postgres/client-episodes.repository';

/** The channel cannot send this message (SMTP chosen without a server, a client without an e-mail address). */
export class NotifyConfigError extends Error {
  override readonly name = 'NotifyConfigError';
}

export interface ClientMessage {
  idempotencyKey: string;
  clientId: string;
  serviceId: string;
  template: TemplateName;
  standing: ClientStanding;
  /** Template-specific merge fields (usage and top-up figures). */
  extra?: Record<string, string>;
  /** Low balance: 'alert' at a crossing or 'reminder' while it lasts; absent from older workflows. */
  occasion?: string;
  /** LOW_BALANCE_REMINDER_HOURS of the sending workflow: which reminder of the crossing this is. */
  reminderHours?: number;
}

/** Records which of the client's crossings a standing (read, or sent by the sweep) is in. */
export async function observeClientStanding(episodes: Pick<ClientEpisodesRepository, 'observe'>, clientId: string, standing: ClientStanding): Promise<void> {
  const c = clientConditions(standing);
  await episodes.observe(clientId, 'low', c.low, standing.observedAt);
  await episodes.observe(clientId, 'zero', c.zero, standing.observedAt);
}

export interface ClientMessenger {
  send(message: ClientMessage): Promise<'sent' | 'already-sent'>;
}

export function createClientMessenger(deps: {
  channel: 'whmcs' | 'smtp';
  mailer?: Mailer;
  whmcs: Pick<WhmcsGateway, 'sendEmail'>;
  notifications: NotificationsRepository;
  /** Without it (tests of older wiring) every message keeps its service's own key. */
  episodes?: Pick<ClientEpisodesRepository, 'observe'>;
  templateNames?: Partial<Record<WhmcsTemplateId, string>>;
  now?: () => number;
}): ClientMessenger {
  const { channel } = deps;
  const now = deps.now ?? (() => Date.now());

  /** The key of a message about the client's crossing: the same for every service of the client. */
  async function clientKey(input: ClientMessage): Promise<string | undefined> {
    const kind = clientTemplateKind(input.template);
    if (!kind || !deps.episodes) return undefined;
    const inCondition = clientConditions(input.standing)[kind];
    const ep = await deps.episodes.observe(input.clientId, kind, inCondition, input.standing.observedAt);
    if (ep.episode === 0) return undefined;
    const base = `client-${input.clientId}:${kind}:${ep.episode}`;
    if (input.occasion !== 'reminder') return base;
    if (!input.reminderHours || !ep.startedAt) return undefined;
    // Each service reminds on its own clock; rounding to the nearest reminder lets their reminders fall together.
    const k = Math.max(1, Math.round((now() - ep.startedAt.getTime()) / (input.reminderHours * 3_600_000)));
    return `${base}:reminder-${k}`;
  }

  return {
    async send(input) {
      const clientWide = await clientKey(input);
      const idempotencyKey = clientWide ?? input.idempotencyKey;
      // A key shared by the client's services is sent by one of them at a time: the first sends, the others find it sent.
      return clientWide ? deps.notifications.exclusive(clientWide, () => deliver(input, clientWide)) : deliver(input, idempotencyKey);
    },
  };

  async function deliver(input: ClientMessage, idempotencyKey: string): Promise<'sent' | 'already-sent'> {
    const claim = await deps.notifications.claim({ idempotencyKey, clientId: input.clientId, serviceId: input.serviceId, template: input.template, channel });
    if (claim.sent) return 'already-sent';
    const fields = mergeFields(input.standing, input.clientId, input.serviceId);
    try {
      if (channel === 'whmcs') {
        await deps.whmcs.sendEmail({
          template: whmcsTemplateName(input.template, input.extra, deps.templateNames),
          relatedId: Number(input.clientId),
          customVars: whmcsCustomVars(input.template, input.serviceId, input.extra),
        });
      } else {
        if (!deps.mailer) throw new NotifyConfigError('NOTIFY_CHANNEL=smtp but no SMTP_URL is configured');
        const to = input.standing.contact?.email;
        if (!to) throw new NotifyConfigError(`client ${input.clientId} has no e-mail address`);
        const { subject, text } = renderBuiltInTemplate(input.template, fields, input.extra);
        await deps.mailer.send({ to, subject, text, idempotencyKey });
      }
    } catch (err) {
      await deps.notifications.recordError(idempotencyKey, (err as Error).message);
      throw err;
    }
    await deps.notifications.markSent(idempotencyKey);
    return 'sent';
  }
}
