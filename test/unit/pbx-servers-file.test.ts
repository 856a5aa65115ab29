import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { loadServersFile, parseServersFile, type ServersFile } from '../../src/adapters/pbx/servers-file';
import { PbxRegistry } from '../../src/adapters/pbx/registry';
import { createLogger } from '../../src/log';

const example = JSON.parse(readFileSync(resolve(__dirname, '../../examples/servers.json'), 'utf8')) as { servers: Array<Record<string, unknown>> };
const fusion = example.servers[0]!;
const vodia = example.servers[1]!;
const log = createLogger('error');

function problems(input: unknown): string {
  try {
    parseServersFile(input);
  } catch (err) {
    assert.equal((err as Error).name, 'PbxConfigError');
    return (err as Error).message;
  }
  assert.fail('expected the servers file to be rejected');
}

describe('servers file', () => {
  test('the shipped example is valid, with defaults filled in', () => {
    const file = parseServersFile(example);
    assert.deepEqual(file.servers.map((s) => [s.name, s.kind]), [['fusion1', 'fusionpbx'], ['vodia1', 'vodia'], ['lesnet1', 'lesnet']]);
    const f = file.servers[0]!;
    assert.equal(f.kind === 'fusionpbx' && f.cdr.dedupeMemory, 1000);
    assert.equal(f.kind === 'fusionpbx' && f.cdr.exclude.loseRace, true);
  });

  test('errors name the entry and the field', () => {
    const noPassword = { ...fusion, database: { host: 'db' } };
    assert.match(problems({ servers: [noPassword] }), /servers\[0\] \(fusion1\)\.database\.passwordEnv: required: passwordEnv/);
    assert.match(problems({ servers: [{ ...fusion, kind: 'asterisk' }] }), /servers\[0\].*kind must be "fusionpbx", "vodia" or "lesnet"/);
    assert.match(problems({ servers: [{ ...fusion, cache: { method: 'file' } }] }), /servers\[0\] \(fusion1\)\.cache/);
    assert.match(problems({ servers: [fusion, { ...vodia, url: 'pbx.example.com' }] }), /servers\[1\] \(vodia1\)\.url: must be scheme:\/\/host/);
    assert.match(problems({ servers: [fusion, { ...fusion }] }), /servers\[1\] \(fusion1\)\.name: duplicates servers\[0\]\.name/);
    assert.match(problems({ servers: [] }), /servers: list at least one server/);
  });

  test('refuses plain-text credentials, and both kinds of reference at once', () => {
    assert.match(problems({ servers: [{ ...vodia, passwordEnv: undefined, password: 'hunter2' }] }), /password: plain-text credentials are not allowed/);
    assert.doesNotMatch(problems({ servers: [{ ...vodia, password: 'hunter2' }] }), /hunter2/);
    assert.match(problems({ servers: [{ ...vodia, passwordSecret: 'vodia' }] }), /set passwordEnv or passwordSecret, not both/);
  });

  test('a carrier may only suspend through a PBX server that exists', () => {
    const lesnet = example.servers[2]!;
    assert.match(problems({ servers: [{ ...lesnet, suspend: { via: 'pbx', server: 'nope' } }] }), /suspend\.server: names no server "nope"/);
  });

  test('LES.NET mappings are checked: names need a header, billable time needs a column', () => {
    const lesnet = example.servers[2]! as { cdrFormat: Record<string, unknown> };
    assert.match(problems({ servers: [{ ...lesnet, cdrFormat: { ...lesnet.cdrFormat, header: 'none' } }] }), /columns\.callId: column "CallID" is a name, but header is "none"/);
    const cols = { start: 0, caller: 1, destination: 2 };
    assert.match(problems({ servers: [{ ...lesnet, cdrFormat: { ...lesnet.cdrFormat, header: 'none', columns: cols } }] }), /map billableDuration, or both answer and end/);
    assert.match(problems({ servers: [{ ...lesnet, cdrFormat: { ...lesnet.cdrFormat, timeZone: 'Mars/Olympus' } }] }), /timeZone: must be an IANA time zone/);
  });

  test('a LES.NET identity (dedupeKey) may not include what a corrected re-export changes', () => {
    const lesnet = example.servers[2]! as { cdrFormat: Record<string, unknown> };
    const key = (dedupeKey: string[]) => ({ servers: [fusion, { ...lesnet, cdrFormat: { ...lesnet.cdrFormat, dedupeKey } }] });
    assert.match(problems(key(['start', 'caller', 'billableDuration'])), /cdrFormat\.dedupeKey\[2\]: "billableDuration" can change when LES\.NET re-issues a corrected file/);
    assert.match(problems(key(['start', 'cost'])), /dedupeKey\[1\]: "cost" can change/);
    assert.doesNotThrow(() => parseServersFile(key(['start', 'caller', 'destination', 'peer'])));
  });

  test('credentials resolve from the environment or the secrets file, with errors that name the variable, never a value', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'servers-'));
    writeFileSync(join(dir, 'secrets.json'), JSON.stringify({ 'vodia-admin': 's3cret-value' }));
    const v = { ...vodia, passwordEnv: undefined, passwordSecret: 'vodia-admin' };
    writeFileSync(join(dir, 'servers.json'), JSON.stringify({ secretsFile: 'secrets.json', servers: [fusion, v] }));
    const loaded = await loadServersFile(join(dir, 'servers.json'), {});
    const registry = new PbxRegistry(loaded.file, loaded.secrets, log);
    assert.equal(registry.get('vodia1').kind, 'vodia');
    assert.throws(() => registry.get('fusion1'), /fusion1: database\.passwordEnv names FUSION1_DB_PASSWORD, which is not set in the environment/);
    const reports = await registry.testAll(['fusion1']);
    assert.equal(reports[0]!.checks[0]!.status, 'misconfigured');
    await registry.close();

    writeFileSync(join(dir, 'servers.json'), JSON.stringify({ servers: [{ ...v, passwordSecret: 'missing' }] }));
    const noFile = await loadServersFile(join(dir, 'servers.json'), {});
    assert.throws(() => new PbxRegistry(noFile.file, noFile.secrets, log).get('vodia1'), /passwordSecret is used but no secrets file is configured/);
    const viaEnv = await loadServersFile(join(dir, 'servers.json'), { VOIPBILL_SECRETS_FILE: join(dir, 'secrets.json') });
    assert.throws(() => new PbxRegistry(viaEnv.file, viaEnv.secrets, log).get('vodia1'), /passwordSecret names "missing", which is not in the secrets file/);
  });

  test('unreadable and non-JSON files are reported with their path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'servers-'));
    writeFileSync(join(dir, 'bad.json'), '{ "servers": [ }');
    await assert.rejects(loadServersFile(join(dir, 'bad.json'), {}), /servers file .*bad\.json is not valid JSON/);
    await assert.rejects(loadServersFile(join(dir, 'absent.json'), {}), /cannot read servers file .*absent\.json/);
  });
});

describe('registry: which server a service uses', () => {
  const file = (servers: Array<Record<string, unknown>>): ServersFile => parseServersFile({ servers });
  const secrets = { env: { FUSION1_DB_PASSWORD: 'x', FUSION1_ESL_PASSWORD: 'y', VODIA1_PASSWORD: 'z' }, secrets: null, secretsFile: null };

  test('a named server, or the only one of the kind', async () => {
    const r = new PbxRegistry(file([fusion, vodia]), secrets, log);
    assert.equal(r.resolve({ kind: 'vodia' }).name, 'vodia1');
    assert.equal(r.resolve({ kind: 'fusionpbx' }).name, 'fusion1');
    assert.equal(r.resolve({ server: 'vodia1' }).name, 'vodia1');
    assert.throws(() => r.resolve({ server: 'vodia1', kind: 'fusionpbx' }), /server "vodia1" is vodia, not fusionpbx/);
    assert.throws(() => r.resolve({ kind: 'lesnet' }), /no lesnet servers are configured/);
    assert.throws(() => r.resolve({ server: 'nope' }), /no server named "nope".*known: fusion1, vodia1/);
    assert.equal(r.get('fusion1'), r.get('fusion1'), 'adapters are built once');
    assert.equal(r.adapterFor('vodia1').name, 'vodia1');
    assert.equal(r.adapterFor(undefined, 'vodia').name, 'vodia1');
    assert.throws(() => r.adapterFor(undefined), /2 servers are configured \(fusion1, vodia1\): the service must name its server/);
    await r.close();
  });

  test('two servers of a kind: the service must name one', async () => {
    const r = new PbxRegistry(file([fusion, { ...fusion, name: 'fusion2' }]), secrets, log);
    assert.throws(() => r.resolve({ kind: 'fusionpbx' }), /2 fusionpbx servers are configured \(fusion1, fusion2\): the service must name its server/);
    await r.close();
  });
});
