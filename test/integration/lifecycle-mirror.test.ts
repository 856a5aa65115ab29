/** The lifecycle mirror follows the rules the workflow applies to the same facts, on a real PostgreSQL. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createLifecycleMirrorRepository } from '../../src/adapters/postgres/lifecycle-mirror.repository';
import { standingFingerprint } from '../../src/domain/lifecycle/sweep';
import type { ClientStanding, ServiceConfig } from '../../src/domain/lifecycle/types';
import { createTestDatabase, type TestDatabase } from '../../harness/db';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await db?.drop();
});

const standing = (credit: string, observedAt: string): ClientStanding => ({
  credit,
  dueInvoicesBalance: '0.00',
  lowBalanceThreshold: null,
  hasVoipService: true,
  manualSuspend: false,
  voipSuspendedField: 'none',
  observedAt,
});
const config: ServiceConfig = { serviceId: '41', clientId: '9', server: 'fusion1', tenant: 'a.test', suspendMode: 'extension', extensions: ['201', '202'] };

test('a signalled standing never replaces a newer one; a standing the workflow read always does', async () => {
  const mirror = createLifecycleMirrorRepository(db.pool);
  await mirror.recordStanding('41', standing('5.00', '2026-11-25T10:00:10.000Z'), 'signalled');
  await mirror.recordStanding('41', standing('9.00', '2026-11-25T10:00:05.000Z'), 'signalled');
  assert.equal((await mirror.load(['41'])).get('41')?.standingFingerprint, standingFingerprint(standing('5.00', 'x')), 'the older signal was ignored, as the workflow ignores it');
  await mirror.recordStanding('41', standing('7.00', '2026-11-25T10:00:01.000Z'), 'read');
  assert.equal((await mirror.load(['41'])).get('41')?.standingFingerprint, standingFingerprint(standing('7.00', 'x')));
  await mirror.recordSuspendedField('41', 'yes');
  assert.equal((await mirror.load(['41'])).get('41')?.standingFingerprint, standingFingerprint({ ...standing('7.00', 'x'), voipSuspendedField: 'yes', voipSuspendedFieldOurs: true }));
});

test('suspension: replaced by a new suspension, extended by a drift repair, cleared by an unsuspension', async () => {
  const mirror = createLifecycleMirrorRepository(db.pool);
  await mirror.recordSuspended('42', config, 'extension', [{ kind: 'extension', id: '201', name: '201' }], 'replace');
  await mirror.recordSuspended('42', config, 'extension', [{ kind: 'extension', id: '202', name: '202' }, { kind: 'extension', id: '201', name: '201' }], 'add');
  const suspended = (await mirror.load(['42'])).get('42')!;
  assert.equal(suspended.suspension?.mode, 'extension');
  assert.deepEqual(suspended.suspension?.disabled.map((d) => d.id).sort(), ['201', '202']);
  assert.deepEqual(suspended.config, config);
  await mirror.recordActive('42', config);
  assert.equal((await mirror.load(['42'])).get('42')!.suspension, null);
  await mirror.recordSuspended('42', config, 'gateway', [{ kind: 'gateway', id: 'gw-1' }], 'add');
  assert.deepEqual((await mirror.load(['42'])).get('42')!.suspension, { mode: 'gateway', disabled: [{ kind: 'gateway', id: 'gw-1' }] }, 'nothing to add to once unsuspended');
  assert.equal((await mirror.load(['nobody'])).size, 0);
});
