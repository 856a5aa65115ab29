/**
 * The credit guard against the FusionPBX double's live calls (real event socket, FreeSWITCH's event format and
 * commands), voipbill's PostgreSQL and the fake WHMCS, with the calls' CDRs stored and charged by real billing runs:
 * no client ends below zero, calls end where their credit does, top-ups extend them, emergency calls always pass.
 * The package bills 0.60/min per second (one cent a second).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startCreditEnv, type CreditEnv } from '../support/credit-env';
import type { CreditGuard } from '../../src/credit-guard/guard';
import { lifecycleWorkflowId, stateQuery, suspendUpdate, unsuspendUpdate } from '../../workflows/service-lifecycle.messages';

let c: CreditEnv;
let guard: CreditGuard;
const cuts: Array<{ uuid: string; dueAtMs: number; sentAtMs: number }> = [];
const refusals: Array<{ uuid: string; why: string }> = [];

before(async () => {
  c = await startCreditEnv();
  guard = await c.startGuard({ cut: (x) => cuts.push(x), refused: (r) => refusals.push(r) });
});
after(async () => {
  await c?.close();
});

const live = () => c.env.fusion.esl.state.live;
const cdrOf = (uuid: string) => live().cdrs.find((r) => r.uuid === uuid);
const ended = (uuid: string) => () => cdrOf(uuid) !== undefined;

describe('credit guard', () => {
  test('a call ends exactly where its credit does: warned first, cut with billsec = credit, the client at zero after billing', async () => {
    const { clientId, service } = await c.client('0.05');
    const uuid = await c.place(service.extensions[0]!, '4165550101');
    await c.until('the call to be cut', ended(uuid));
    const cdr = cdrOf(uuid)!;
    assert.equal(cdr.billsec, 5, 'five cents buy five seconds');
    assert.equal(cdr.hangupCause, 'ALLOTTED_TIMEOUT');
    assert.ok(live().broadcasts.some((b) => b.uuid === uuid), 'the caller heard the warning tone');
    assert.equal(live().hangups.filter((h) => h.uuid === uuid).length, 1, 'hung up once');
    await c.bill();
    assert.equal(await c.balanceCents(clientId), 0n);
    await c.until('the reservation released once the CDR is stored', async () => (await c.repo.listForClient(String(clientId))).every((r) => r.releaseReason === 'billed'));
  });

  test('two calls of one client on two services share its credit: both end, the client does not go below zero', async () => {
    const { clientId, service } = await c.client('0.12');
    const second = await c.service(clientId);
    const a = await c.place(service.extensions[0]!, '4165550102');
    const b = await c.place(second.extensions[0]!, '4165550103', { answerAfterMs: 600 });
    await c.until('both calls cut', () => ended(a)() && ended(b)());
    const total = cdrOf(a)!.billsec! as number + (cdrOf(b)!.billsec as number);
    assert.ok(total <= 12, `together they billed ${total} s on 12 s of credit`);
    assert.ok(total >= 10, `the credit was used, not held back (${total} s of 12) ${JSON.stringify(refusals)} ${JSON.stringify([cdrOf(a), cdrOf(b)])}`);
    await c.bill();
    const balance = await c.balanceCents(clientId);
    assert.ok(balance >= 0n && balance <= 2n, `balance ${balance} cents`);
  });

  test('a client without credit is refused before the carrier answers', async () => {
    const { service } = await c.client('0.00');
    const uuid = await c.place(service.extensions[0]!, '4165550104', { answerAfterMs: 1500 });
    await c.until('the call refused', ended(uuid));
    assert.equal(cdrOf(uuid)!.billsec, 0);
    assert.equal(cdrOf(uuid)!.hangupCause, 'OUTGOING_CALL_BARRED');
    assert.ok(refusals.some((r) => r.uuid === uuid && r.why === 'no-credit'), JSON.stringify(refusals));
  });

  test('calls ringing at once cannot count on the same credit: the one its first increment no longer fits is refused before answer', async () => {
    const { clientId, service } = await c.client('0.01');
    const second = await c.service(clientId);
    const a = await c.place(service.extensions[0]!, '4165550111', { answerAfterMs: 1500 });
    const b = await c.place(second.extensions[0]!, '4165550112', { answerAfterMs: 1500 });
    await c.until('both calls over', () => ended(a)() && ended(b)(), 20_000);
    const [cdrA, cdrB] = [cdrOf(a)!, cdrOf(b)!];
    const barred = [cdrA, cdrB].filter((r) => r.hangupCause === 'OUTGOING_CALL_BARRED');
    assert.equal(barred.length, 1, `one call refused while ringing: ${JSON.stringify([cdrA, cdrB])}`);
    assert.equal(barred[0]!.billsec, 0, 'refused before the carrier answered');
    assert.ok(refusals.some((r) => (r.uuid === a || r.uuid === b) && r.why === 'no-credit'), JSON.stringify(refusals));
    assert.equal((cdrA.billsec as number) + (cdrB.billsec as number), 1, 'the other one talked its one cent');
    await c.bill();
    assert.equal(await c.balanceCents(clientId), 0n);
    await c.until('the ringing hold of the refused call freed', async () => (await c.repo.listForClient(String(clientId))).every((r) => r.releasedAtMs !== null || r.state === 'ended'));
  });

  test('emergency numbers are never refused, reserved, warned or cut', async () => {
    const { clientId, service } = await c.client('0.00');
    const uuid = await c.place(service.extensions[0]!, '911', { talkMs: 4000 });
    await c.until('the emergency call to end by itself', ended(uuid), 15_000);
    assert.equal(cdrOf(uuid)!.hangupCause, 'NORMAL_CLEARING');
    assert.ok((cdrOf(uuid)!.billsec as number) >= 3);
    assert.deepEqual(await c.repo.listForClient(String(clientId)), []);
    assert.ok(!live().broadcasts.some((b) => b.uuid === uuid));
    assert.ok(!refusals.some((r) => r.uuid === uuid));
    assert.equal(guard.callState(uuid), undefined);
  });

  test('a top-up through the lifecycle\'s standing path extends a call about to be cut', async () => {
    const { clientId, service } = await c.client('0.05');
    const uuid = await c.place(service.extensions[0]!, '4165550105', { talkMs: 9000 });
    await c.until('the call to learn it is running out', () => guard.callState(uuid)?.final === true, 10_000);
    // An admin (or a paid invoice) adds credit; the service workflow re-reads its standing, as after a top-up webhook.
    await c.env.setCredit(clientId, '1.00');
    await c.env.start(service);
    await c.until('the call to hang up by itself', ended(uuid), 20_000);
    assert.equal(cdrOf(uuid)!.hangupCause, 'NORMAL_CLEARING', 'the far end hung up: the guard did not cut');
    assert.ok((cdrOf(uuid)!.billsec as number) >= 8, `billsec ${cdrOf(uuid)!.billsec} beyond the 5 s the first credit bought`);
    await c.bill();
    assert.equal(await c.balanceCents(clientId), 100n - BigInt(cdrOf(uuid)!.billsec as number));
  });

  test('restrict mode: the suspended service\'s outbound calls are refused, emergency calls still go through, nothing is switched off at the PBX', async () => {
    const { service } = await c.client('5.00', { suspendMode: 'restrict' });
    await c.env.start(service);
    const handle = c.env.temporal.client.workflow.getHandle(lifecycleWorkflowId(service.serviceId));
    await c.env.waitFor(service.serviceId, 'active', (s) => s.standing !== undefined);
    await handle.executeUpdate(suspendUpdate, { args: [{ requestId: 'restrict-1', reason: 'fraud check', mode: 'restrict' }], updateId: 'restrict-1' });
    const state = await handle.query(stateQuery);
    assert.equal(state.suspension?.mode, 'restrict');
    assert.deepEqual(state.suspension?.disabled.map((d) => d.kind), ['restriction']);
    for (const ext of service.extensions) assert.equal(await c.env.extensionEnabled(ext), true, `extension ${ext} stays enabled`);
    // The guard reads restrictions every 2 s.
    await new Promise((r) => setTimeout(r, 2500));
    const refused = await c.place(service.extensions[0]!, '4165550106', { answerAfterMs: 1500 });
    await c.until('the outbound call refused', ended(refused));
    assert.equal(cdrOf(refused)!.billsec, 0);
    assert.ok(refusals.some((r) => r.uuid === refused && r.why === 'suspended'), JSON.stringify(refusals));
    const emergency = await c.place(service.extensions[0]!, '911', { talkMs: 2500 });
    await c.until('the emergency call to end by itself', ended(emergency), 15_000);
    assert.equal(cdrOf(emergency)!.hangupCause, 'NORMAL_CLEARING');
    await handle.executeUpdate(unsuspendUpdate, { args: [{ requestId: 'restrict-2' }], updateId: 'restrict-2' });
    // At once: before refusing a call as suspended, the guard looks again at what it read up to 2 s ago.
    const allowed = await c.place(service.extensions[0]!, '4165550107', { talkMs: 2500 });
    await c.until('the outbound call to end by itself', ended(allowed), 15_000);
    assert.equal(cdrOf(allowed)!.hangupCause, 'NORMAL_CLEARING');
  });

  test('limits: a call beyond the concurrent maximum is refused and locks the client until the breach is cleared', async () => {
    const { clientId, service } = await c.client('5.00');
    await c.repo.setLimitOverride(String(clientId), { maxConcurrentCalls: 1 }, 'test');
    await new Promise((r) => setTimeout(r, 2500));
    const first = await c.place(service.extensions[0]!, '4165550108', { talkMs: 6000 });
    await c.until('the first call reserved', () => (guard.callState(first)?.reservedSeconds ?? 0) > 0);
    const second = await c.place(service.extensions[1]!, '4165550109', { answerAfterMs: 1500 });
    await c.until('the second call refused', ended(second));
    assert.ok(refusals.some((r) => r.uuid === second && r.why === 'breach'), JSON.stringify(refusals));
    const open = await c.repo.openBreaches();
    assert.ok(open.some((b) => b.clientId === String(clientId) && b.kind === 'max_concurrent_calls'));
    await c.until('the first call to end by itself', ended(first), 15_000);
    const locked = await c.place(service.extensions[0]!, '4165550110', { answerAfterMs: 1500 });
    await c.until('the next call refused while the breach is open', ended(locked));
    assert.ok(refusals.some((r) => r.uuid === locked && r.why === 'locked'), JSON.stringify(refusals));
    assert.equal(await c.repo.clearBreaches(String(clientId), 'test', 'checked with the client'), 1);
    await new Promise((r) => setTimeout(r, 2500));
    const again = await c.place(service.extensions[0]!, '4165550111', { talkMs: 2000 });
    await c.until('the call after clearing to end by itself', ended(again), 15_000);
    assert.equal(cdrOf(again)!.hangupCause, 'NORMAL_CLEARING');
  });

  test('limits: a premium destination needs an explicit allow', async () => {
    const { clientId, service } = await c.client('5.00');
    const premium = await c.place(service.extensions[0]!, '19005550123', { answerAfterMs: 1500 });
    await c.until('the premium call refused', ended(premium));
    assert.ok(refusals.some((r) => r.uuid === premium && r.why === 'breach'), JSON.stringify(refusals));
    assert.ok((await c.repo.openBreaches()).some((b) => b.clientId === String(clientId) && b.kind === 'restricted_destination'));
    await c.repo.clearBreaches(String(clientId), 'test', 'allowed');
    await c.repo.setLimitOverride(String(clientId), { allowedPrefixes: ['1900'] }, 'test');
    await new Promise((r) => setTimeout(r, 2500));
    const allowed = await c.place(service.extensions[0]!, '19005550124', { talkMs: 2000 });
    await c.until('the allowed premium call to end by itself', ended(allowed), 15_000);
    assert.equal(cdrOf(allowed)!.hangupCause, 'NORMAL_CLEARING');
  });

  test('a guard restart rebuilds calls and reservations: each call is still cut at its credit, once, and no client ends below zero', async () => {
    const one = await c.client('0.08');
    const two = await c.client('0.04');
    const a = await c.place(one.service.extensions[0]!, '4165550112');
    await c.until('call a reserved', () => (guard.callState(a)?.reservedSeconds ?? 0) > 0);
    await guard.stop();
    // While no guard watches: call b is answered, and call a talks on under the PBX's own backstop.
    const b = await c.place(two.service.extensions[0]!, '4165550113', { answerAfterMs: 200 });
    await new Promise((r) => setTimeout(r, 1200));
    guard = await c.startGuard({ cut: (x) => cuts.push(x), refused: (r) => refusals.push(r) });
    await c.until('both calls cut', () => ended(a)() && ended(b)(), 20_000);
    assert.ok((cdrOf(a)!.billsec as number) <= 8 && (cdrOf(a)!.billsec as number) >= 7, `call a billed ${cdrOf(a)!.billsec} s on 8 s of credit`);
    assert.ok((cdrOf(b)!.billsec as number) <= 4, `call b billed ${cdrOf(b)!.billsec} s on 4 s of credit`);
    for (const uuid of [a, b]) assert.equal(live().hangups.filter((h) => h.uuid === uuid).length, 1, 'cut once');
    await c.bill();
    assert.ok((await c.balanceCents(one.clientId)) >= 0n);
    assert.ok((await c.balanceCents(two.clientId)) >= 0n);
  });

  test('a call answered while no guard ran and refused at recovery keeps its cost held until its CDR is billed', async () => {
    const { clientId, service } = await c.client('0.00');
    await guard.stop();
    const x = await c.place(service.extensions[0]!, '4165550114', { answerAfterMs: 100 });
    await new Promise((r) => setTimeout(r, 2200));
    guard = await c.startGuard({ cut: (y) => cuts.push(y), refused: (r) => refusals.push(r) });
    await c.until('call x refused at recovery', ended(x), 20_000);
    const billsec = cdrOf(x)!.billsec as number;
    assert.equal(cdrOf(x)!.hangupCause, 'OUTGOING_CALL_BARRED');
    assert.ok(billsec >= 2, `it talked ${billsec} s unguarded`);
    await c.until('its cost recorded', async () => (await c.repo.listForClient(String(clientId))).some((r) => r.callUuid === x && r.state === 'ended'));
    const row = (await c.repo.listForClient(String(clientId))).find((r) => r.callUuid === x)!;
    assert.equal(row.reservedMicros, BigInt(billsec) * 10_000n, 'what it cost, at one cent a second');
    assert.equal(row.releasedAtMs, null);
    await c.bill();
    await c.until('released once its CDR is stored', async () => (await c.repo.listForClient(String(clientId))).every((r) => r.releaseReason === 'billed'));
  });
});

