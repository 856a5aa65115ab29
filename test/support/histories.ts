/**
 * Recorded workflow histories (test/fixtures/histories): each stands for workflows that may still be running in
 * production, so a later version of the code must replay it. New recordings are added, never written over an
 * existing file: `VOIPBILL_RECORD_HISTORIES=1 npm test -- test/workflows/recorded-branches.test.ts` writes the
 * scenarios whose file is missing.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { temporal } from '@temporalio/proto';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

export const historiesDir = join(__dirname, '../fixtures/histories');

export function historyFiles(): string[] {
  return readdirSync(historiesDir).filter((f) => f.endsWith('.json')).sort();
}

/** Writes the history as a new fixture when recording is asked for and none of that name exists yet. */
export function recordHistory(name: string, history: temporal.api.history.v1.IHistory): 'written' | 'kept' | 'not recording' {
  if (process.env.VOIPBILL_RECORD_HISTORIES !== '1') return 'not recording';
  const path = join(historiesDir, `${name}.json`);
  if (existsSync(path)) return 'kept';
  writeFileSync(path, `${historyToJSON(history)}\n`);
  return 'written';
}

/** The versioning markers (patch IDs) a recorded history holds, read from its JSON. */
export function patchesIn(file: string): string[] {
  const json = JSON.parse(readFileSync(join(historiesDir, file), 'utf8')) as { events: Array<Record<string, unknown>> };
  const ids: string[] = [];
  for (const event of json.events) {
    const marker = event.markerRecordedEventAttributes as { markerName?: string; details?: Record<string, { payloads?: Array<{ data?: string }> }> } | undefined;
    if (marker?.markerName !== 'core_patch') continue;
    for (const payload of marker.details?.['patch-data']?.payloads ?? []) {
      const id = (JSON.parse(Buffer.from(payload.data ?? '', 'base64').toString('utf8')) as { id?: unknown }).id;
      if (typeof id === 'string') ids.push(id);
    }
  }
  return ids;
}
