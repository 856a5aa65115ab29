/**
 * The suspend-target contract: idempotent suspend/unsuspend in each supported mode, "re-enable exactly what was
 * disabled", inspect() reading the PBX's real state (drift), typed errors — and, for adapters that cannot suspend,
 * an honest refusal. Ground truth comes from the double, never from the adapter under test.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PbxAdapter, SuspendMode, SuspendTarget } from '../../src/ports/pbx';

export interface SuspendHarness {
  adapter: Pick<PbxAdapter, 'name' | 'capabilities' | 'suspend' | 'unsuspend' | 'inspect' | 'inspectMany'>;
  /** A target with at least two items in this mode, all enabled, plus the ids the adapter reports for them. */
  target(mode: SuspendMode): { target: SuspendTarget; itemIds: string[] };
  /** Another tenant's target, which must never be touched. */
  bystander(mode: SuspendMode): { target: SuspendTarget; itemIds: string[] };
  /** Ground truth at the double: does this item carry calls? */
  isOn(mode: SuspendMode, tenant: string, itemId: string): Promise<boolean>;
  /** An admin changes the PBX directly, bypassing voipbill. */
  tamper(mode: SuspendMode, tenant: string, itemId: string, on: boolean): Promise<void>;
  /** Makes the PBX unreachable until the returned function is called. */
  takeDown?(): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

const sorted = (ids: string[]) => [...ids].sort();

/**
 * @param modes the suspend modes the adapter is expected to declare (empty: it must refuse to suspend).
 */
export function itBehavesLikeASuspendTarget(name: string, modes: SuspendMode[], make: () => Promise<SuspendHarness>): void {
  describe(`SuspendTarget contract: ${name}`, () => {
    const withHarness = (fn: (h: SuspendHarness) => Promise<void>) => async () => {
      const h = await make();
      try {
        await fn(h);
      } finally {
        await h.close();
      }
    };

    test('declares whether and how it can suspend', withHarness(async (h) => {
      assert.deepEqual(sorted(h.adapter.capabilities.suspendModes), sorted(modes));
      if (modes.length > 0) return;
      const target = { tenant: 'any.example.com', extensions: ['100'] };
      for (const call of [() => h.adapter.suspend(target, 'gateway'), () => h.adapter.unsuspend(target, 'extension'), () => h.adapter.inspect(target, 'gateway')]) {
        await assert.rejects(call(), (err: Error & { retryable?: boolean }) => {
          assert.equal(err.name, 'SuspendUnsupportedError');
          assert.equal(err.retryable, false);
          return true;
        });
      }
    }));

    for (const mode of ['gateway', 'extension'] as const) {
      const modeTest = (title: string, fn: (h: SuspendHarness) => Promise<void>): void => {
        test(`${mode} mode: ${title}`, { skip: modes.includes(mode) ? false : `${name} does not support ${mode} mode` }, withHarness(fn));
      };

      modeTest('suspend turns off exactly the target items, reports them, and is idempotent', async (h) => {
        const { target, itemIds } = h.target(mode);
        const other = h.bystander(mode);
        const first = await h.adapter.suspend(target, mode, { idempotencyKey: 'test-1' });
        assert.equal(first.mode, mode);
        assert.deepEqual(sorted(first.disabled.map((i) => i.id)), sorted(itemIds));
        assert.deepEqual(first.alreadyDisabled, []);
        for (const id of itemIds) assert.equal(await h.isOn(mode, target.tenant, id), false, `${id} is off at the PBX`);
        for (const id of other.itemIds) assert.equal(await h.isOn(mode, other.target.tenant, id), true, `bystander ${id} untouched`);
        assert.equal((await h.adapter.inspect(target, mode)).state, 'suspended');

        const again = await h.adapter.suspend(target, mode, { idempotencyKey: 'test-1' });
        assert.deepEqual(again.disabled, []);
        assert.deepEqual(sorted(again.alreadyDisabled.map((i) => i.id)), sorted(itemIds));
        for (const id of itemIds) assert.equal(await h.isOn(mode, target.tenant, id), false);
      });

      modeTest('unsuspend re-enables exactly what suspend disabled — not what an admin had disabled', async (h) => {
        const { target, itemIds } = h.target(mode);
        const [mine, admins] = itemIds as [string, string];
        await h.tamper(mode, target.tenant, admins, false);
        const s = await h.adapter.suspend(target, mode);
        assert.deepEqual(s.disabled.map((i) => i.id), [mine]);
        assert.deepEqual(s.alreadyDisabled.map((i) => i.id), [admins]);

        const recorded = s.disabled.map((i) => i.id);
        const back: SuspendTarget = mode === 'gateway' ? { tenant: target.tenant, gateways: recorded } : { tenant: target.tenant, extensions: recorded };
        const u = await h.adapter.unsuspend(back, mode);
        assert.deepEqual(u.enabled.map((i) => i.id), [mine]);
        assert.equal(await h.isOn(mode, target.tenant, mine), true);
        assert.equal(await h.isOn(mode, target.tenant, admins), false, 'the admin-disabled item stays off');

        const again = await h.adapter.unsuspend(back, mode);
        assert.deepEqual(again.enabled, []);
        assert.deepEqual(again.alreadyEnabled.map((i) => i.id), [mine]);
        assert.equal(await h.isOn(mode, target.tenant, mine), true);
      });

      modeTest('inspect reads the PBX and reveals drift made behind voipbill’s back', async (h) => {
        const { target, itemIds } = h.target(mode);
        assert.equal((await h.adapter.inspect(target, mode)).state, 'active');
        await h.adapter.suspend(target, mode);
        await h.tamper(mode, target.tenant, itemIds[0]!, true);
        const seen = await h.adapter.inspect(target, mode);
        assert.equal(seen.state, 'partial');
        const drifted = seen.items.find((i) => i.item.id === itemIds[0]);
        assert.ok(drifted, 'the tampered item is listed');
        assert.equal(drifted.enabled, true);
        const still = seen.items.find((i) => i.item.id === itemIds[1]);
        assert.equal(still?.enabled, false);
        // Re-suspending repairs the drift and reports the repaired item as disabled by this call.
        const repair = await h.adapter.suspend(target, mode);
        assert.deepEqual(repair.disabled.map((i) => i.id), [itemIds[0]]);
        assert.equal((await h.adapter.inspect(target, mode)).state, 'suspended');
      });

      modeTest('names that do not exist are reported missing; an unknown tenant is a non-retryable error', async (h) => {
        const { target, itemIds } = h.target(mode);
        const withGhost: SuspendTarget =
          mode === 'gateway' ? { tenant: target.tenant, gateways: [itemIds[0]!, 'no-such-gateway'] } : { tenant: target.tenant, extensions: [itemIds[0]!, '99999'] };
        const r = await h.adapter.suspend(withGhost, mode);
        assert.deepEqual(r.disabled.map((i) => i.id), [itemIds[0]]);
        assert.equal(r.missing.length, 1);
        await assert.rejects(h.adapter.suspend({ ...target, tenant: 'no-such-tenant.example.com' }, mode), (err: Error & { retryable?: boolean }) => {
          assert.equal(err.name, 'PbxTargetNotFoundError');
          assert.equal(err.retryable, false);
          return true;
        });
      });

      modeTest('inspectMany reports, per target and in order, what inspect reports; a bad target fails alone', async (h) => {
        const { target, itemIds } = h.target(mode);
        const other = h.bystander(mode);
        await h.adapter.suspend(target, mode);
        await h.tamper(mode, target.tenant, itemIds[0]!, true);
        const one: SuspendTarget = mode === 'gateway' ? { tenant: target.tenant, gateways: [itemIds[1]!] } : { tenant: target.tenant, extensions: [itemIds[1]!] };
        const requests = [
          { target, mode },
          { target: { ...target, tenant: 'no-such-tenant.example.com' }, mode },
          { target: other.target, mode },
          { target: one, mode },
        ];
        const outcomes = await h.adapter.inspectMany(requests);
        assert.equal(outcomes.length, requests.length);
        const unknown = outcomes[1]!;
        assert.ok('error' in unknown, 'the unknown tenant is an error of its own');
        assert.equal(unknown.error.name, 'PbxTargetNotFoundError');
        for (const i of [0, 2, 3]) {
          const o = outcomes[i]!;
          assert.ok('result' in o, `request ${i} has a result`);
          assert.deepEqual(o.result, await h.adapter.inspect(requests[i]!.target, mode), `request ${i} equals inspect`);
        }
        assert.equal((outcomes[0] as { result: { state: string } }).result.state, 'partial');
        assert.equal((outcomes[2] as { result: { state: string } }).result.state, 'active');
        assert.deepEqual((outcomes[3] as { result: { items: Array<{ item: { id: string } }> } }).result.items.map((i) => i.item.id), [itemIds[1]]);
        assert.deepEqual(await h.adapter.inspectMany([]), []);
      });

      modeTest('a PBX that is down fails with a retryable error and changes nothing', async (h) => {
        if (!h.takeDown) return;
        const { target, itemIds } = h.target(mode);
        const restore = await h.takeDown();
        try {
          await assert.rejects(h.adapter.suspend(target, mode), (err: Error & { retryable?: boolean }) => {
            assert.equal(err.name, 'PbxUnavailableError');
            assert.equal(err.retryable, true);
            return true;
          });
          await assert.rejects(h.adapter.inspectMany([{ target, mode }]), (err: Error & { retryable?: boolean }) => {
            assert.equal(err.name, 'PbxUnavailableError', 'a batch against an unreachable PBX fails whole');
            return true;
          });
        } finally {
          await restore();
        }
        for (const id of itemIds) assert.equal(await h.isOn(mode, target.tenant, id), true);
      });
    }
  });
}
