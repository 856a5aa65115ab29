/** The HTTP plumbing every protocol double shares: listen on loopback, say where, close without waiting on clients. */
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export async function listenLoopback(server: Server, port: number): Promise<void> {
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok());
  });
}

export function loopbackUrl(server: Server | null): string {
  return `http://127.0.0.1:${(server?.address() as AddressInfo | null)?.port ?? 0}`;
}

export async function closeServer(server: Server | null): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise<void>((ok) => server.close(() => ok()));
}

/** A request's whole body as text (doubles take what they are sent: no limit). */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => ok(Buffer.concat(chunks).toString('utf8')));
    req.on('error', fail);
  });
}
