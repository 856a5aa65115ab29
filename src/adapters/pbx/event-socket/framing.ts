/**
 * mod_event_socket framing as voipbill's client reads the server's replies and events (the test double reads commands
 * with code of its own, so a misreading cannot hide on both sides): a block of `Name: value` lines ended by an
 * empty line, then exactly `Content-Length` body bytes when that header is present. FreeSWITCH ignores CR when it
 * looks for the empty line, so `\n\n` and `\r\n\r\n` both end a block. Bytes may arrive split anywhere, and several
 * frames may arrive in one chunk.
 */

export interface EslFrame {
  /** The header block's lines without line endings. */
  lines: string[];
  body: string;
}

const LF = 0x0a;
const CR = 0x0d;

export class EslFrameParser {
  private buf: Buffer = Buffer.alloc(0);
  private pendingLines: string[] | null = null;
  private pendingLength = 0;

  push(chunk: Buffer): EslFrame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const frames: EslFrame[] = [];
    for (;;) {
      if (this.pendingLines) {
        if (this.buf.length < this.pendingLength) break;
        const body = this.buf.subarray(0, this.pendingLength).toString('utf8');
        this.buf = this.buf.subarray(this.pendingLength);
        frames.push({ lines: this.pendingLines, body });
        this.pendingLines = null;
        continue;
      }
      const end = this.headerEnd();
      if (end === null) break;
      const block = this.buf.subarray(0, end.blockEnd).toString('utf8');
      this.buf = this.buf.subarray(end.next);
      const lines = block
        .split('\n')
        .map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l))
        .filter((l) => l !== '');
      // Stray empty lines between frames are not frames.
      if (lines.length === 0) continue;
      const length = contentLength(lines);
      if (length > 0) {
        this.pendingLines = lines;
        this.pendingLength = length;
      } else {
        frames.push({ lines, body: '' });
      }
    }
    return frames;
  }

  /** Position of the empty line that ends the header block, ignoring CRs; null when not yet received. */
  private headerEnd(): { blockEnd: number; next: number } | null {
    const b = this.buf;
    let lineStart = 0;
    for (let i = 0; i < b.length; i++) {
      if (b[i] !== LF) continue;
      const line = b.subarray(lineStart, i);
      const empty = line.length === 0 || (line.length === 1 && line[0] === CR);
      if (empty && lineStart > 0) return { blockEnd: lineStart, next: i + 1 };
      if (empty && lineStart === 0) {
        // A leading empty line: drop it and keep looking.
        this.buf = b.subarray(i + 1);
        return this.headerEnd();
      }
      lineStart = i + 1;
    }
    return null;
  }
}

function contentLength(lines: string[]): number {
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === 'content-length') {
      const n = Number(line.slice(colon + 1).trim());
      return Number.isInteger(n) && n > 0 ? n : 0;
    }
  }
  return 0;
}

/** Header lines as a case-insensitive map (keys lower-cased), split on the first `:` and trimmed, as FusionPBX does. */
export function headerMap(lines: string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    map.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return map;
}
