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
});
