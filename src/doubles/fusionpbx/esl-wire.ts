/**
 * The FreeSWITCH side of the event-socket wire, written from FreeSWITCH's source and kept apart from voipbill's
 * client on purpose (a misreading shared by both sides would hide itself).
 *
 * Commands (mod_event_socket.c, read_packet): header lines up to an empty line; CR is ignored; a `Content-Length`
 * header brings that many body bytes. The first line is the command itself, never a header (it may contain `:`).
 */

/** One command as mod_event_socket reads it. */
export interface EslCommand {
  line: string;
  headers: Array<[string, string]>;
  body: string;
}

/** Splits the byte stream of a client into commands; bytes may arrive split anywhere. */
export class CommandReader {
  private buf: Buffer = Buffer.alloc(0);
  private pending: { line: string; headers: Array<[string, string]>; length: number } | null = null;

  push(chunk: Buffer): EslCommand[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: EslCommand[] = [];
    for (;;) {
      if (this.pending) {
        if (this.buf.length < this.pending.length) break;
        const body = this.buf.subarray(0, this.pending.length).toString('utf8');
        this.buf = this.buf.subarray(this.pending.length);
        out.push({ line: this.pending.line, headers: this.pending.headers, body });
        this.pending = null;
        continue;
      }
      const block = this.nextBlock();
      if (block === null) break;
      const [line, ...rest] = block;
      const headers: Array<[string, string]> = [];
      for (const l of rest) {
        const colon = l.indexOf(':');
        if (colon <= 0) continue;
        headers.push([l.slice(0, colon).trim(), l.slice(colon + 1).trim()]);
      }
      const length = Number(headers.find(([k]) => k.toLowerCase() === 'content-length')?.[1] ?? 0);
      if (Number.isInteger(length) && length > 0) this.pending = { line: line!, headers, length };
      else out.push({ line: line!, headers, body: '' });
    }
    return out;
  }

  /** Lines up to the next empty line (CR ignored), or null when it has not arrived yet. */
  private nextBlock(): string[] | null {
    const lines: string[] = [];
    let start = 0;
    for (let i = 0; i < this.buf.length; i++) {
      if (this.buf[i] !== 0x0a) continue;
      let line = this.buf.subarray(start, i).toString('utf8');
      if (line.endsWith('\r')) line = line.slice(0, -1);
      start = i + 1;
      if (line === '') {
        // Empty lines before a command (a client's stray line ending) are not a command.
        if (lines.length === 0) continue;
        this.buf = this.buf.subarray(start);
        return lines;
      }
      lines.push(line);
    }
    return null;
  }
}
