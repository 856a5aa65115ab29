/**
 * Client messages (low balance, zero balance, usage, top-up), exactly once per idempotency key: the key is claimed in
 * PostgreSQL first (a claimed-but-unsent key is sent again), then the message goes through WHMCS SendEmail with the
 * template's name and merge fields (NOTIFY_CHANNEL=whmcs) or by SMTP with the built-in text (NOTIFY_CHANNEL=smtp).
 */
import { mergeFields, renderBuiltInTemplate, type TemplateName } from '../../domain/lifecycle/notifications';
import type { ClientStanding } from '../../domain/lifecycle/types';
import type { Mailer } from '../../ports/mailer';
import type { WhmcsGateway } from '../../ports/whmcs';
import type { NotificationsRepository } from '../postgres/notifications.repository';

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
}

export interface ClientMessenger {
  send(message: ClientMessage): Promise<'sent' | 'already-sent'>;
}

export function createClientMessenger(deps: {
  channel: 'whmcs' | 'smtp';
  mailer?: Mailer;
  whmcs: Pick<WhmcsGateway, 'sendEmail'>;
  notifications: NotificationsRepository;
}): ClientMessenger {
  const { channel } = deps;
  return {
    async send(input) {
      const claim = await deps.notifications.claim({ idempotencyKey: input.idempotencyKey, clientId: input.clientId, serviceId: input.serviceId, template: input.template, channel });
      if (claim.sent) return 'already-sent';
      const fields = mergeFields(input.standing, input.clientId, input.serviceId);
      try {
        if (channel === 'whmcs') {
          await deps.whmcs.sendEmail({ template: input.template, relatedId: Number(input.clientId), customVars: { ...(input.extra ?? {}), ...fields } });
        } else {
          if (!deps.mailer) throw new NotifyConfigError('NOTIFY_CHANNEL=smtp but no SMTP_URL is configured');
          const to = input.standing.contact?.email;
          if (!to) throw new NotifyConfigError(`client ${input.clientId} has no e-mail address`);
          const { subject, text } = renderBuiltInTemplate(input.template, fields, input.extra);
          await deps.mailer.send({ to, subject, text, idempotencyKey: input.idempotencyKey });
        }
      } catch (err) {
        await deps.notifications.recordError(input.idempotencyKey, (err as Error).message);
        throw err;
      }
      await deps.notifications.markSent(input.idempotencyKey);
      return 'sent';
    },
  };
}
