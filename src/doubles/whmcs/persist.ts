/**
 * The fake WHMCS's state in a file, so a restarted fake is the same WHMCS: clients keep their credit, and invoice and
 * transaction numbers go on from where they were, as a real WHMCS's database would. Money stays bigint cents and maps
 * stay maps through the file. The request log (a test aid) is not kept.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { FakeWhmcsState } from './state';

const KEPT = ['clients', 'products', 'services', 'credits', 'invoices', 'transactions', 'emailTemplates', 'emails', 'activityLog', 'billableItems', 'tax', 'invoiceGenerationDays', 'dateFormat', 'clientFieldDefinitions', 'admins', 'cardOutcomes', 'seq'] as const;

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return { $bigint: value.toString() };
  if (value instanceof Map) return { $map: [...value.entries()] };
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const v = value as { $bigint?: unknown; $map?: unknown };
    if (typeof v.$bigint === 'string' && Object.keys(v).length === 1) return BigInt(v.$bigint);
    if (Array.isArray(v.$map) && Object.keys(v).length === 1) return new Map(v.$map as Array<[unknown, unknown]>);
  }
  return value;
}

export function serializeState(state: FakeWhmcsState): string {
  return JSON.stringify(Object.fromEntries(KEPT.map((k) => [k, state[k]])), replacer);
}

/** Writes the state whole, then renames it into place: a crash mid-write leaves the previous file. */
export function saveState(state: FakeWhmcsState, file: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, serializeState(state), { mode: 0o600 });
  renameSync(tmp, file);
}

/** The state saved in `file`, or undefined when there is none yet. A file that cannot be read is an error, not a reset. */
export function loadState(file: string, clock?: () => Date): FakeWhmcsState | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const saved = JSON.parse(text, reviver) as Partial<Record<(typeof KEPT)[number], unknown>>;
  const state = new FakeWhmcsState(clock);
  for (const k of KEPT) {
    if (saved[k] === undefined) continue;
    if (k === 'seq') state.seq = { ...state.seq, ...(saved.seq as FakeWhmcsState['seq']) };
    else (state as unknown as Record<string, unknown>)[k] = saved[k];
  }
  return state;
}
