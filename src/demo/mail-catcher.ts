/**
 * The demo's SMTP catcher: a real SMTP server (smtp-server) that keeps every message voipbill sends as a file under
 * VOIPBILL_DATA_DIR/demo/mail/ and logs who it was for and its subject. `bin/voipbill demo mail` lists them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import type { Logger } from '../log';

export interface MailCatcher {
  url: string;
  port: number;
  dir: string;
  count(): number;
  close(): Promise<void>;
}

function header(raw: string, name: string): string {
  const m = new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(raw);
  return m?.[1]?.trim() ?? '';
}

export async function startMailCatcher(opts: { port: number; dir: string; log: Logger }): Promise<MailCatcher> {
  mkdirSync(opts.dir, { recursive: true });
  let n = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      let raw = '';
      stream.on('data', (c: Buffer) => (raw += c.toString()));
      stream.on('end', () => {
        n++;
        const to = session.envelope.rcptTo.map((r) => r.address).join(', ');
        const subject = header(raw, 'Subject');
        const file = join(opts.dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${String(n).padStart(4, '0')}.eml`);
        writeFileSync(file, raw);
        opts.log.info('demo mail caught', { to, subject, file });
        callback();
      });
    },
  });
  // smtp-server re-emits socket errors on itself: without a listener a client's reset would crash the process.
  server.on('error', (err) => opts.log.warn('demo SMTP catcher error', { error: err }));
  await new Promise<void>((ok, fail) => {
    server.server.once('error', fail);
    server.listen(opts.port, '127.0.0.1', () => ok());
  });
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `smtp://127.0.0.1:${port}`, port, dir: opts.dir, count: () => n, close: () => new Promise((ok) => server.close(() => ok())) };
}
