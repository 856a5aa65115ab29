/**
 * Where a CDR source's billing starts (billFrom) and how it keeps its identity (id) in the servers file: dates are
 * local midnights of the billing time zone, instants carry their offset, bad values and shared identities are
 * refused naming the entry and the field.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { billFromMs } from '../../src/domain/billing/bill-from';
import { parseServersFile } from '../../src/adapters/pbx/servers-file';
import { PbxRegistry } from '../../src/adapters/pbx/registry';
import { createLogger } from '../../src/log';

const example = JSON.parse(readFileSync(resolve(__dirname, '../../examples/servers.json'), 'utf8')) as { servers: Array<Record<string, unknown>> };
const fusion = example.servers[0]!;
const vodia = example.servers[1]!;

function problems(input: unknown): string {
  try {
    parseServersFile(input);
  } catch (err) {
    return (err as Error).message;
  }
  return assert.fail('expected the servers file to be rejected');
}

describe('billFrom', () => {
  test('a date is midnight in the billing time zone; an instant keeps its offset', () => {
    assert.equal(billFromMs('2026-12-01', 'UTC'), Date.parse('2026-12-01T00:00:00Z'));
    assert.equal(billFromMs('2026-12-01', 'America/Toronto'), Date.parse('2026-12-01T05:00:00Z'));
    assert.equal(billFromMs('2026-07-01', 'America/Toronto'), Date.parse('2026-07-01T04:00:00Z'), 'daylight time');
    assert.equal(billFromMs('2026-12-01T08:30:00-05:00', 'UTC'), Date.parse('2026-12-01T13:30:00Z'));
    assert.equal(billFromMs('2026-12-01T08:30Z', 'America/Toronto'), Date.parse('2026-12-01T08:30:00Z'));
  });
  test('anything else is not a billFrom', () => {
    for (const bad of ['2026-02-30', '2026-13-01', '2026-12-01T08:30:00', '01/12/2026', '2026-12-1', 'yesterday', '']) assert.equal(billFromMs(bad, 'UTC'), undefined, bad);
  });
});

describe('servers file: id and billFrom', () => {
  test('the example is valid and each source knows its identity, start and connection (never a secret)', () => {
    const file = parseServersFile(example);
    const registry = new PbxRegistry({ ...file, servers: file.servers.map((s) => ({ ...s, ...(s.name === 'fusion1' ? { id: 'pbx-east' } : {}) })) } as typeof file, { env: { FUSION1_DB_PASSWORD: 'secret-db', FUSION1_ESL_PASSWORD: 'secret-esl', VODIA1_PASSWORD: 'secret-vodia', LESNET1_API_KEY: 'secret-key', LESNET1_ID_KEY: 'secret-id' }, secrets: null, secretsFile: null }, createLogger('error'));
    const f = registry.get('fusion1').identity!();
    assert.deepEqual(f, { id: 'pbx-east', billFrom: '2026-12-01', fingerprint: 'fusionpbx:127.0.0.1:54330/fusionpbx' });
    assert.deepEqual(registry.get('vodia1').identity!(), { id: 'vodia1', billFrom: '2026-12-01', fingerprint: 'vodia:http://127.0.0.1:8082|cffm.vodia.example' });
    assert.match(registry.get('lesnet1').identity!().fingerprint!, /^lesnet:http:\/\/127\.0\.0\.1:8083\/cdr\/11330_0000\.txt$/);
    assert.doesNotMatch(JSON.stringify([f, registry.get('vodia1').identity!()]), /secret/);
  });
  test('a bad billFrom is refused naming the server and the field', () => {
    assert.match(problems({ servers: [{ ...fusion, billFrom: '2026-12-01T00:00:00' }] }), /servers\[0\] \(fusion1\)\.billFrom: must be a date like "2026-12-01".*or an instant with its offset/);
  });
  test('two servers may not share an identity: cursors and dedupe are keyed by it', () => {
    assert.match(problems({ servers: [fusion, { ...vodia, id: 'fusion1' }] }), /servers\[1\] \(vodia1\)\.id: identity "fusion1" is already servers\[0\]'s/);
    assert.match(problems({ servers: [{ ...fusion, id: 'old-name' }, { ...vodia, name: 'old-name' }] }), /servers\[1\] \(old-name\)\.name: identity "old-name" is already servers\[0\]'s/);
    assert.match(problems({ servers: [{ ...fusion, id: 'bad id' }] }), /servers\[0\] \(fusion1\)\.id: must be 1–63 letters/);
    assert.doesNotThrow(() => parseServersFile({ servers: [{ ...fusion, name: 'fusion-east', id: 'fusion1' }, vodia] }));
  });
});
