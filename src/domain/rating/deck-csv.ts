/**
 * Streaming rate-deck CSV parser: text chunks in, {@link DeckLoadResult} out. Pure (the file reading lives in an
 * adapter). Holds only the current partial record between chunks, so memory is bounded by the deck it builds.
 *
 * Format: UTF-8 with or without BOM; exactly one header row; ',' or ';' separated (detected from the header unless
 * given); RFC 4180 quoting ("a ""b""", newlines inside quotes); CRLF or LF; blank lines ignored.
 */
import { DeckBuilder, type DeckBuildOptions, type DeckLoadResult, type DeckRowFields } from './deck-builder';
import { resolveDeckColumns, type ColumnPositions, type DeckColumnMapping } from './deck-columns';

export interface DeckCsvOptions extends DeckBuildOptions {
  /** Header names for columns that do not use the canonical names. */
  readonly columns?: DeckColumnMapping;
  /** Field separator; 'auto' (default) picks whichever of ',' and ';' occurs more in the header. */
  readonly delimiter?: ',' | ';' | 'auto';
}

const QUOTE = 34;
/** A record this long is an unbalanced quote, not a rate; stop before it swallows the whole file. */
const MAX_RECORD_CHARS = 1 << 20;

function countQuotes(s: string): number {
  let n = 0;
  for (let i = s.indexOf('"'); i >= 0; i = s.indexOf('"', i + 1)) n++;
  return n;
}

/** Splits one record, honouring quotes. */
export function splitCsvRecord(record: string, delimiter: string): string[] {
  if (record.indexOf('"') < 0) return record.split(delimiter);
  const fields: string[] = [];
  let field = '';
  let inQuotes = false;
  for (let i = 0; i < record.length; i++) {
    const c = record.charCodeAt(i);
    if (inQuotes) {
      if (c === QUOTE) {
        if (record.charCodeAt(i + 1) === QUOTE) {
          field += '"';
          i++;
        } else {
          inQuotes = false;
        }
      } else {
        field += record[i];
      }
    } else if (c === QUOTE) {
      inQuotes = true;
    } else if (record[i] === delimiter) {
      fields.push(field);
      field = '';
    } else {
      field += record[i];
    }
  }
  fields.push(field);
  return fields;
}

function detectDelimiter(header: string): ',' | ';' {
  let commas = 0;
  let semicolons = 0;
  let inQuotes = false;
  for (let i = 0; i < header.length; i++) {
    const c = header[i];
    if (c === '"') inQuotes = !inQuotes;
    else if (!inQuotes && c === ',') commas++;
    else if (!inQuotes && c === ';') semicolons++;
  }
  return semicolons > commas ? ';' : ',';
}

function isBlank(fields: readonly string[]): boolean {
  for (const f of fields) if (f.trim() !== '') return false;
  return true;
}

export class DeckCsvParser {
  private readonly builder: DeckBuilder;
  private pending = '';
  /** Physical line number of the first line in `pending`. */
  private line = 1;
  private started = false;
  private delimiter: string | undefined;
  private positions: ColumnPositions | undefined;
  private ended = false;

  constructor(private readonly options: DeckCsvOptions = {}) {
    this.builder = new DeckBuilder(options);
    if (options.delimiter !== undefined && options.delimiter !== 'auto') this.delimiter = options.delimiter;
  }

  /** Feeds the next piece of text (chunks may split records and even lines anywhere). */
  push(chunk: string): void {
    if (this.ended) throw new Error('DeckCsvParser.push after end');
    // The BOM is the first character of the file, not of the first push: an empty first chunk must not hide it.
    if (!this.started && chunk.length > 0) {
      this.started = true;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    const text = this.pending === '' ? chunk : this.pending + chunk;
    let start = 0;
    let searchFrom = 0;
    for (;;) {
      const nl = text.indexOf('\n', searchFrom);
      if (nl < 0) break;
      const record = text.slice(start, nl);
      // A newline inside quotes belongs to the field: keep reading until the quotes balance.
      if (record.indexOf('"') >= 0 && countQuotes(record) % 2 === 1) {
        searchFrom = nl + 1;
        continue;
      }
      this.handleRecord(record.endsWith('\r') ? record.slice(0, -1) : record);
      start = searchFrom = nl + 1;
    }
    this.pending = start === 0 ? text : text.slice(start);
    if (this.pending.length > MAX_RECORD_CHARS) {
      this.builder.fail(this.line, `record longer than ${MAX_RECORD_CHARS} characters (unbalanced quote?)`);
    }
  }

  /** Ends the input and builds the deck; throws DeckImportError when the import is rejected. */
  end(): DeckLoadResult {
    if (this.ended) throw new Error('DeckCsvParser.end called twice');
    this.ended = true;
    if (this.pending !== '') {
      if (countQuotes(this.pending) % 2 === 1) this.builder.reject(this.line, 'unterminated quoted field at end of file');
      else this.handleRecord(this.pending.endsWith('\r') ? this.pending.slice(0, -1) : this.pending);
      this.pending = '';
    }
    if (this.positions === undefined) this.builder.fail(1, 'the file is empty: expected a header row');
    return this.builder.finish();
  }

  private handleRecord(record: string): void {
    const line = this.line;
    for (let i = record.indexOf('\n'); i >= 0; i = record.indexOf('\n', i + 1)) this.line++;
    this.line++;
    if (this.positions === undefined) {
      this.readHeader(record, line);
      return;
    }
    const fields = splitCsvRecord(record, this.delimiter!);
    if (isBlank(fields)) return;
    const p = this.positions;
    const at = (pos: number): string | undefined => (pos < 0 ? undefined : (fields[pos] ?? ''));
    const row: DeckRowFields = {
      prefix: at(p.prefix),
      description: at(p.description),
      rateValue: at(p.rateValue),
      increment: at(p.increment),
      connectionFee: at(p.connectionFee),
      minimumSeconds: at(p.minimumSeconds),
      effectiveDate: at(p.effectiveDate),
      status: at(p.status),
      shortDescription: at(p.shortDescription),
      period: at(p.period),
      initialRate: at(p.initialRate),
      initialSeconds: at(p.initialSeconds),
      maxCost: at(p.maxCost),
    };
    this.builder.addRow(line, row);
  }

  private readHeader(record: string, line: number): void {
    if (record.trim() === '') this.builder.fail(line, 'line 1 must be the header row, found an empty line');
    this.delimiter ??= detectDelimiter(record);
    const headers = splitCsvRecord(record, this.delimiter).map((h) => h.trim());
    const resolved = resolveDeckColumns(headers, this.options.columns);
    if (Array.isArray(resolved)) this.builder.fail(line, `header: ${resolved.join('; ')}`);
    this.positions = resolved;
  }
}

/** Parses a whole deck held in memory (tests, small decks). */
export function parseDeckCsv(text: string, options: DeckCsvOptions = {}): DeckLoadResult {
  const parser = new DeckCsvParser(options);
  parser.push(text);
  return parser.end();
}
