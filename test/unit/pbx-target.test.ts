/** What a suspension asks of the PBX, per service kind: tenant and items, or a carrier's peer. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pbxTarget } from '../../src/domain/lifecycle/pbx-target';
import type { ServiceConfig } from '../../src/domain/lifecycle/types';

const config = (o: Partial<ServiceConfig>): ServiceConfig => ({ serviceId: '7', clientId: '3', suspendMode: 'gateway', extensions: [], ...o });

describe('pbxTarget', () => {
  test('a PBX service: its tenant, its extensions or all of the tenant\'s gateways, or exactly the recorded items', () => {
    assert.deepEqual(pbxTarget(config({ tenant: 'acme.example.com' }), 'gateway'), { ok: true, target: { tenant: 'acme.example.com' } });
    assert.deepEqual(pbxTarget(config({ tenant: 'acme.example.com', extensions: ['201'] }), 'extension'), { ok: true, target: { tenant: 'acme.example.com', extensions: ['201'] } });
    assert.deepEqual(pbxTarget(config({ tenant: 'acme.example.com' }), 'gateway', [{ kind: 'gateway', id: 'g1' }]), { ok: true, target: { tenant: 'acme.example.com', gateways: ['g1'] } });
    assert.deepEqual(pbxTarget(config({}), 'gateway'), { ok: false, reason: 'service 7 has no tenant configured' });
  });

  test('a LES.NET service: its peer, for its carrier to find at the PBX (any tenant unless the carrier names one)', () => {
    assert.deepEqual(pbxTarget(config({ peer: 'D4E3CD2BFC791' }), 'gateway'), { ok: true, target: { tenant: '*', peer: 'D4E3CD2BFC791' } });
    assert.deepEqual(pbxTarget(config({ peer: 'D4E3CD2BFC791' }), 'gateway', [{ kind: 'gateway', id: 'uuid-1' }]), { ok: true, target: { tenant: '*', peer: 'D4E3CD2BFC791', gateways: ['uuid-1'] } });
    const ext = pbxTarget(config({ peer: 'D4E3CD2BFC791' }), 'extension');
    assert.equal(ext.ok, false);
    assert.match(!ext.ok ? ext.reason : '', /carrier account \(peer D4E3CD2BFC791\): it has no extensions; suspend it in Gateway mode/);
  });
});
