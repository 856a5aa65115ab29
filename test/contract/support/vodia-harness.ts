/** Builds Vodia adapters against the REST double, and the contract harnesses over them. */
import { VodiaAdapter } from '../../../src/adapters/pbx/vodia/adapter';
import { vodiaServerSchema, type VodiaConfig } from '../../../src/adapters/pbx/vodia/config';
import { createLogger } from '../../../src/log';
import type { FakeVodiaServer } from '../../../src/doubles/vodia/server';
import type { VodiaTenant } from '../../../src/doubles/vodia/state';
import type { SuspendMode } from '../../../src/ports/pbx';
import type { CdrSourceHarness } from '../pbx-cdr-source.contract';
import type { SuspendHarness } from '../pbx-suspend-target.contract';

export function vodiaConfig(fake: FakeVodiaServer, over: Record<string, unknown> = {}): VodiaConfig {
  const entry = vodiaServerSchema.parse({ name: 'vodia-test', kind: 'vodia', url: fake.url, username: 'admin', passwordEnv: 'UNUSED', timeoutMs: 2000, ...over });
  return { ...entry, passwordValue: fake.users.get(entry.username)?.password ?? 'wrong' };
}

export function vodiaAdapter(fake: FakeVodiaServer, over: Record<string, unknown> = {}): VodiaAdapter {
  return new VodiaAdapter(vodiaConfig(fake, over), createLogger('warn'));
}

let tenantSerial = 0;

export function vodiaCdrHarness(fake: FakeVodiaServer, adapter: VodiaAdapter): () => Promise<CdrSourceHarness> {
  return async () => {
    const tenant = fake.state.addTenant(`cdr-${++tenantSerial}.example.com`, { accounts: ['1001'], trunks: [{ name: 'carrier' }] });
    return {
      source: adapter,
      feed: { tenant: tenant.name },
      arrive: async (calls) => {
        for (const c of calls) {
          fake.state.addCall(tenant.name, {
            direction: c.direction,
            caller: c.caller,
            destination: c.destination,
            start: Date.parse(c.startedAt) / 1000,
            ringSeconds: c.ringSeconds ?? 5,
            billsec: c.billsec,
            ...(c.direction === 'outbound' ? { extension: c.caller } : { extension: '1001' }),
          });
        }
      },
      arriveMalformed: async () => {
        fake.state.addRawCdr(tenant.name, { call_id: 'bad@x', from: '<sip:1001@x>', to: '<sip:1999@x>', start: 'yesterday', connect: '', end: '', extensions: [], trunks: [1] });
      },
      arriveBackdated: async (c) => {
        // An id below ones already read (a CDR written out of sequence), inside the overlap window.
        const minId = Math.min(...tenant.cdrs.map((r) => Number(r.id)));
        fake.state.addCall(tenant.name, { direction: c.direction, caller: c.caller, destination: c.destination, start: Date.parse(c.startedAt) / 1000, ringSeconds: c.ringSeconds ?? 5, billsec: c.billsec, extension: c.caller }, minId - 1);
      },
      close: async () => undefined,
    };
  };
}

export function vodiaSuspendHarness(fake: FakeVodiaServer, adapter: VodiaAdapter): () => Promise<SuspendHarness> {
  return async () => {
    const n = ++tenantSerial;
    const acme = fake.state.addTenant(`acme-${n}.example.com`, { accounts: ['2001', '2002', '2003'], trunks: [{ name: 'acme-sip-1' }, { name: 'acme-sip-2' }, { name: 'shared-global', global: true }] });
    const other = fake.state.addTenant(`other-${n}.example.com`, { accounts: ['3001', '3002'], trunks: [{ name: 'other-sip' }, { name: 'other-sip-2' }] });
    const items = (t: VodiaTenant, mode: SuspendMode) =>
      mode === 'gateway'
        ? { target: { tenant: t.name }, itemIds: t.trunks.filter((x) => !x.global).map((x) => x.id) }
        : { target: { tenant: t.name, extensions: t.accounts.slice(0, 2).map((a) => a.name) }, itemIds: t.accounts.slice(0, 2).map((a) => a.name) };
    const find = (mode: SuspendMode, tenant: string, id: string) => {
      const t = fake.state.tenants.get(tenant)!;
      return mode === 'gateway' ? t.trunks.find((x) => x.id === id)! : t.accounts.find((a) => a.name === id)!;
    };
    return {
      adapter,
      target: (mode) => items(acme, mode),
      bystander: (mode) => items(other, mode),
      isOn: async (mode, tenant, id) => !find(mode, tenant, id).disabled,
      tamper: async (mode, tenant, id, on) => {
        find(mode, tenant, id).disabled = !on;
      },
      takeDown: async () => {
        const port = Number(new URL(fake.url).port);
        await fake.stop();
        return async () => {
          await fake.start(port);
        };
      },
      close: async () => undefined,
    };
  };
}
