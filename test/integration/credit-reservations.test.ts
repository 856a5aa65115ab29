/**
 * The credit guard's reservations in PostgreSQL (real database): what a ringing call holds, what an ended call holds
 * until its CDR is stored, and the visible release of a call whose CDR never arrives.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createCreditGuardRepository } from '../../src/adapters/postgres/credit-guard.repository';
import { createTestDatabase, type TestDatabase } from '../../harness/db';

let db: TestDatabase;
let repo: ReturnType<typeof createCreditGuardRepository>;

before(async () => {
  db = await createTestDatabase();
  repo = createCreditGuardRepository(db.pool);
});
after(async () => {
  await db?.drop();
});

const heldBy = async (clientId: string) =>
  (await repo.snapshot({ clientId, callUuid: 'none', prepaidServiceIds: ['5'], creditReadAtMs: Date.now(), nowMs: Date.now() })).otherReservationsMicros;

const row = (callUuid: string, clientId: string, startedAtMs: number, answeredAtMs: number | null, seconds: number, micros: bigint) => ({
  callUuid,
  server: 'fusion1',
  source: 'fusion1',
  serviceId: '5',
  clientId,
  destination: '4165550100',
  startedAtMs,
  answeredAtMs,
  reservedSeconds: seconds,
  reservedMicros: micros,
  final: false,
  cutDueAtMs: null,
});

test('a ringing call holds its first increment; unanswered, it is released at once as not billable', async () => {
  const epoch = await repo.takeLease('fusion1', 'test');
  const now = Date.now();
  await repo.withClient('71', (tx) => repo.saveReservation(tx, epoch, row('ring-1', '71', now, null, 60, 15_000n)));
  assert.equal(await heldBy('71'), 15_000n);
  const [listed] = await repo.listForClient('71');
  assert.equal(listed!.answeredAtMs, null);
  // Answered: the same row moves on, keeping its start.
  await repo.withClient('71', (tx) => repo.saveReservation(tx, epoch, row('ring-1', '71', now, now + 2000, 600, 150_000n)));
  assert.equal((await repo.listForClient('71')).find((r) => r.callUuid === 'ring-1')!.answeredAtMs, now + 2000);
  await repo.withClient('71', (tx) => repo.saveReservation(tx, epoch, row('ring-2', '71', now, null, 60, 15_000n)));
  assert.equal(await heldBy('71'), 165_000n);
  await repo.markEnded('fusion1', epoch, 'ring-2', { billsec: 0, micros: 0n, endedAtMs: now + 3000 });
  await repo.releaseNotBillable('fusion1', 'ring-2');
  assert.equal(await heldBy('71'), 150_000n);
  assert.equal((await repo.listForClient('71')).find((r) => r.callUuid === 'ring-2')!.releaseReason, 'not_billable');
});

test('an ended call whose CDR never arrives holds its cost until the timeout, then is released visibly', async () => {
  const epoch = await repo.takeLease('fusion1', 'test');
  const t0 = Date.now() - 3 * 3_600_000;
  await repo.withClient('77', (tx) => repo.saveReservation(tx, epoch, row('c-1', '77', t0, t0 + 1000, 60, 600_000n)));
  await repo.markEnded('fusion1', epoch, 'c-1', { billsec: 42, micros: 420_000n, endedAtMs: t0 + 43_000 });
  assert.equal(await heldBy('77'), 420_000n, 'the real cost, not the step');
  assert.deepEqual(await repo.releaseExpired('fusion1', t0), [], 'not before the timeout');
  assert.equal(await heldBy('77'), 420_000n);
  const released = await repo.releaseExpired('fusion1', Date.now() - 120 * 60_000);
  assert.deepEqual(released, [{ callUuid: 'c-1', clientId: '77', micros: 420_000n }]);
  assert.equal(await heldBy('77'), 0n);
  const [listed] = await repo.listForClient('77');
  assert.equal(listed!.releaseReason, 'cdr_timeout');
  assert.ok(listed!.releasedAtMs !== null);
});

test('a call that talked without a reservation has its cost recorded once, by the guard holding the lease', async () => {
  const old = await repo.takeLease('fusion1', 'test');
  const epoch = await repo.takeLease('fusion1', 'test');
  const now = Date.now();
  const ended = { ...row('u-1', '78', now - 10_000, now - 9000, 7, 70_000n), billsec: 7, endedAtMs: now - 2000 };
  await assert.rejects(repo.recordEnded(old, ended), { name: 'LeaseLostError' });
  assert.equal(await heldBy('78'), 0n);
  await repo.recordEnded(epoch, ended);
  await repo.recordEnded(epoch, { ...ended, reservedMicros: 90_000n });
  assert.equal(await heldBy('78'), 70_000n);
  const [listed] = await repo.listForClient('78');
  assert.equal(listed!.state, 'ended');
  assert.equal(listed!.billsec, 7);
});
