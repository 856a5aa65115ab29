/** Outgoing e-mail. The SMTP adapter is nodemailer; tests use a real SMTP server (smtp-server). */
export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  /** Stable per logical message; becomes the Message-ID so a receiving system can spot a duplicate. */
  idempotencyKey: string;
}

export interface Mailer {
  send(mail: OutgoingMail): Promise<void>;
  close(): Promise<void>;
}
