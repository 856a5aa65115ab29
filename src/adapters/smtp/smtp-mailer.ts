import { createHash } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { Mailer, OutgoingMail } from '../../ports/mailer';

/** Nodemailer over SMTP. `url` is an smtp:// or smtps:// URL (credentials in it are never logged). */
export function createSmtpMailer(options: { url: string; from: string }): Mailer {
  const transport = nodemailer.createTransport(options.url);
  const domain = options.from.split('@')[1]?.replace(/[^a-z0-9.-]/gi, '') || 'voipbill.local';
  return {
    async send(mail: OutgoingMail): Promise<void> {
      const digest = createHash('sha256').update(mail.idempotencyKey).digest('hex').slice(0, 32);
      await transport.sendMail({
        from: options.from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        messageId: `<${digest}@${domain}>`,
        headers: { 'X-Voipbill-Key': mail.idempotencyKey },
      });
    },
    async close(): Promise<void> {
      transport.close();
    },
  };
}
