/**
 * Finds the deck's columns in its header row: by canonical name (case-, space- and underscore-insensitive), then by
 * common vendor aliases, or by an explicit mapping `{ rateValue: "Cost/Min" }` that takes precedence.
 */

export const DECK_COLUMNS = [
  'description',
  'prefix',
  'rateValue',
  'increment',
  'connectionFee',
  'minimumSeconds',
  'effectiveDate',
  'status',
  'shortDescription',
  'period',
  'initialRate',
  'initialSeconds',
  'maxCost',
] as const;
export type DeckColumn = (typeof DECK_COLUMNS)[number];

/** Explicit header name for some canonical columns. */
export type DeckColumnMapping = Partial<Record<DeckColumn, string>>;

const REQUIRED: readonly DeckColumn[] = ['description', 'prefix', 'rateValue', 'increment'];

/** The documented header names (ictVoIP spelling). */
export const CANONICAL_HEADERS: Readonly<Record<DeckColumn, string>> = {
  description: 'Description',
  prefix: 'Prefix',
  rateValue: 'RateValue',
  increment: 'Increment',
  connectionFee: 'ConnectionFee',
  minimumSeconds: 'MinimumSeconds',
  effectiveDate: 'EffectiveDate',
  status: 'Status',
  shortDescription: 'ShortDescription',
  period: 'Period',
  initialRate: 'InitialRate',
  initialSeconds: 'InitialSeconds',
  maxCost: 'MaxCost',
};

/** Other vendors' names for the same data (A2Billing, ASTPP, MagnusBilling, CGRateS, Kazoo). */
const ALIASES: Readonly<Record<DeckColumn, readonly string[]>> = {
  description: ['destination', 'destinationname'],
  prefix: ['code', 'dialprefix', 'destinationprefix'],
  rateValue: ['rate', 'costmin', 'ratepermin', 'rateperminute', 'rateinitial', 'ratecost'],
  increment: ['billingincrement', 'rateincrement'],
  connectionFee: ['connectfee', 'connectioncost', 'connectcharge'],
  minimumSeconds: ['minimumduration', 'minduration', 'rateminimum'],
  effectiveDate: ['effectivefrom', 'startdate'],
  status: [],
  shortDescription: [],
  period: ['timeband'],
  initialRate: [],
  initialSeconds: [],
  maxCost: [],
};

/** Header comparison key: lower case without spaces, underscores, dashes, dots or slashes. */
export function headerKey(name: string): string {
  return name.toLowerCase().replace(/[\s_\-./]+/g, '');
}

/** Column position per canonical column, -1 when absent. */
export type ColumnPositions = Readonly<Record<DeckColumn, number>>;

/** Resolves the header; returns positions or a list of problems naming the header cells involved. */
export function resolveDeckColumns(headers: readonly string[], mapping: DeckColumnMapping = {}): ColumnPositions | string[] {
  const keys = headers.map(headerKey);
  const problems: string[] = [];
  const positions = {} as Record<DeckColumn, number>;
  const taken = new Map<number, DeckColumn>();
  for (const column of DECK_COLUMNS) {
    const explicit = mapping[column];
    let pos = -1;
    if (explicit !== undefined) {
      pos = keys.indexOf(headerKey(explicit));
      if (pos < 0) problems.push(`column mapping ${column} → ${JSON.stringify(explicit)}: no such header (headers: ${headers.join(', ')})`);
    } else {
      pos = keys.indexOf(headerKey(CANONICAL_HEADERS[column]));
      if (pos < 0) {
        const found = ALIASES[column].map((a) => keys.indexOf(a)).filter((p) => p >= 0);
        if (found.length > 1) {
          problems.push(`${CANONICAL_HEADERS[column]} is ambiguous: headers ${found.map((p) => JSON.stringify(headers[p])).join(' and ')}; map it explicitly`);
        }
        pos = found[0] ?? -1;
      }
    }
    if (pos >= 0) {
      const other = taken.get(pos);
      if (other !== undefined) {
        problems.push(`header ${JSON.stringify(headers[pos])} is used for both ${other} and ${column}; map them explicitly`);
      }
      taken.set(pos, column);
    } else if (explicit === undefined && REQUIRED.includes(column)) {
      problems.push(
        `missing column ${CANONICAL_HEADERS[column]} (headers: ${headers.join(', ')}); map it with the column mapping option "${column}"`,
      );
    }
    positions[column] = pos;
  }
  return problems.length > 0 ? problems : positions;
}
