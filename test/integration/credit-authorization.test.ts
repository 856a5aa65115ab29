/**
 * The credit guard with the dialplan's authorization step (integrations/fusionpbx/voipbill_authorize.lua, modelled
 * by the FusionPBX double): a new outbound call reaches the carrier only once the guard allowed it, with the PBX's
 * own backstop set for its answer; while no guard runs, new calls wait and the next guard decides them; a client
 * short of credit holds only a few seconds ahead on each call. Real event socket, PostgreSQL, fake WHMCS and billing
 * runs; the package bills 0.60/min per second (one cent a second).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startCreditEnv, type CreditEnv } from '../support/credit-env';
import type { CreditGuard } from '../../src/credit-guard/guard';
import { TIGHT_LEAD_SECONDS } from '../../src/domain/credit/reservation';

let c: CreditEnv;
let guard: CreditGuard | null = null;
const refusals: Array<{ uuid: string; why: string }> = [];

before(async () => {
  c = await startCreditEnv();
  c.env.fusion.esl.state.live.authorization = { timeoutMs: 30_000, onTimeout: 'refuse', emergencyNumbers: ['911', '933'] };
  guard = await c.startGuard({ refused: (r) => refusals.push(r) });
});
after(async () => {
  await c?.close();
});

const live = () => c.env.fusion.esl.state.live;
const cdrOf = (uuid: string) => live().cdrs.find((r) => r.uuid === uuid);
const ended = (uuid: string) => () => cdrOf(uuid) !== undefined;
const callOf = (uuid: string) => [...live().calls.values()].find((x) => x.a.uuid === uuid);
const answered = (uuid: string) => () => (callOf(uuid)?.a.answeredUs ?? 0) > 0 || (cdrOf(uuid)?.answerEpoch ?? 0) > 0;
const commandsFor = (uuid: string) => c.env.fusion.esl.apiCommands().filter((x) => x.includes(uuid));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function restartGuard(): Promise<void> {
  guard = await c.startGuard({ refused: (r) => refusals.push(r) });
}

describe('credit guard with the dialplan authorization step', () => {
  test('an allowed call goes on to the carrier only after the guard\'s word, with its backstop armed for the answer', async () => {
    const { clientId, service } = await c.client('0.06');
    const uuid = await c.place(service.extensions[0]!, '4165550201', { answerAfterMs: 300 });
    await c.until('the call answered', answered(uuid));
    const sent = commandsFor(uuid);
    const backstopAt = sent.findIndex((x) => /^uuid_setvar \S+ execute_on_answer sched_hangup \+\d+ ALLOTTED_TIMEOUT$/.test(x));
    const allowAt = sent.indexOf(`uuid_setvar ${uuid} voipbill_auth allow`);
    assert.ok(backstopAt >= 0 && allowAt > backstopAt, `backstop, then the word: ${JSON.stringify(sent)}`);
    const held = Number(/\+(\d+)/.exec(sent[backstopAt]!)![1]);
    const row = (await c.repo.listForClient(String(clientId))).find((r) => r.callUuid === uuid)!;
    assert.ok(held > 0 && held <= 6, `the backstop is what the call held before answer (${held} s of 6 cents)`);
    assert.ok(row.reservedSeconds >= held, 'the reservation row holds at least that');
    await c.until('the call cut at its credit', ended(uuid));
    assert.equal(cdrOf(uuid)!.billsec, 6);
    assert.equal(cdrOf(uuid)!.hangupCause, 'ALLOTTED_TIMEOUT');
    await c.bill();
    assert.equal(await c.balanceCents(clientId), 0n);
  });

  test('a call without credit never reaches the carrier: refused in the dialplan, no far-end leg, nothing billed', async () => {
    const { clientId, service } = await c.client('0.00');
    const uuid = await c.place(service.extensions[0]!, '4165550202', { answerAfterMs: 100 });
    await c.until('the call refused', ended(uuid));
    const cdr = cdrOf(uuid)!;
    assert.equal(cdr.hangupCause, 'OUTGOING_CALL_BARRED');
    assert.equal(cdr.billsec, 0);
    assert.equal(cdr.bridgeUuid, null, 'the carrier was never called');
    assert.ok(!commandsFor(uuid).some((x) => x.includes('voipbill_auth allow')));
    assert.ok(refusals.some((r) => r.uuid === uuid && r.why === 'no-credit'));
    await c.bill();
    assert.equal(await c.balanceCents(clientId), 0n);
  });

  test('while no guard runs, new calls wait in the dialplan and the next guard decides them; emergency calls pass at once', async () => {
    const broke = await c.client('0.00');
    const funded = await c.client('0.05');
    await guard!.stop();
    guard = null;
    const x = await c.place(broke.service.extensions[0]!, '4165550203', { answerAfterMs: 100 });
    const y = await c.place(funded.service.extensions[0]!, '4165550204', { answerAfterMs: 100 });
    const sos = await c.place(broke.service.extensions[1]!, '911', { answerAfterMs: 100, talkMs: 3000 });
    await c.until('the emergency call answered', answered(sos));
    await sleep(1500);
    for (const uuid of [x, y]) {
      assert.equal(answered(uuid)(), false, 'no call talks while nobody guards');
      assert.equal(callOf(uuid)?.authorizing, true, 'it waits in the authorization script');
    }
    await restartGuard();
    await c.until('x refused by the new guard', ended(x));
    assert.equal(cdrOf(x)!.hangupCause, 'OUTGOING_CALL_BARRED');
    assert.equal(cdrOf(x)!.bridgeUuid, null);
    await c.until('y cut at its credit', ended(y));
    assert.deepEqual([cdrOf(y)!.billsec, cdrOf(y)!.hangupCause], [5, 'ALLOTTED_TIMEOUT']);
    await c.until('the emergency call over', ended(sos));
    assert.equal(cdrOf(sos)!.hangupCause, 'NORMAL_CLEARING');
    await c.bill();
    assert.equal(await c.balanceCents(broke.clientId), 0n);
    assert.equal(await c.balanceCents(funded.clientId), 0n);
  });

  test('a call answered after its guard died still ends at what it held: the PBX\'s own backstop from the authorization', async () => {
    const { clientId, service } = await c.client('0.05');
    const uuid = await c.place(service.extensions[0]!, '4165550205', { answerAfterMs: 1500, talkMs: 60_000 });
    await c.until('the call allowed', () => commandsFor(uuid).includes(`uuid_setvar ${uuid} voipbill_auth allow`));
    const held = Number(/\+(\d+)/.exec(commandsFor(uuid).find((x) => x.includes('execute_on_answer'))!)![1]);
    await guard!.stop();
    guard = null;
    await c.until('the call over', ended(uuid), 20_000);
    assert.equal(cdrOf(uuid)!.billsec, held, 'it talked what it held, not a second more');
    assert.ok(live().hangups.some((h) => h.uuid === uuid && h.by === 'sched_hangup'), 'hung up by the PBX itself');
    await restartGuard();
    await c.bill();
    assert.ok((await c.balanceCents(clientId)) >= 0n);
  });

  test('a call answered while no guard listened is metered from its real answer, asked of the PBX (uuid_dump)', async () => {
    const { clientId, service } = await c.client('1.00');
    const uuid = await c.place(service.extensions[0]!, '4165550210', { answerAfterMs: 2500, talkMs: 60_000 });
    await c.until('the call allowed', () => commandsFor(uuid).includes(`uuid_setvar ${uuid} voipbill_auth allow`));
    await guard!.stop();
    guard = null;
    await c.until('the call answered', answered(uuid));
    await restartGuard();
    assert.ok(commandsFor(uuid).includes(`uuid_dump ${uuid} json`));
    await c.until('its answer recorded', async () => (await c.repo.listForClient(String(clientId))).some((r) => r.callUuid === uuid && r.answeredAtMs !== null));
    const row = (await c.repo.listForClient(String(clientId))).find((r) => r.callUuid === uuid)!;
    const answeredSec = Math.floor(callOf(uuid)!.a.answeredUs / 1_000_000);
    assert.equal(Math.floor(row.answeredAtMs! / 1000), answeredSec, 'the answer the PBX saw, not the channel\'s creation');
    live().hangup(callOf(uuid)!, 'NORMAL_CLEARING', 'far-end');
    await c.bill();
    assert.ok((await c.balanceCents(clientId)) >= 0n);
  });

  test('a call that hung up while no guard listened holds its real cost (from the PBX\'s call record), not its whole step', async () => {
    const { clientId, service } = await c.client('1.00');
    const uuid = await c.place(service.extensions[0]!, '4165550209', { answerAfterMs: 100, talkMs: 3000 });
    await c.until('the call answered and guarded', async () => answered(uuid)() && (await c.repo.listForClient(String(clientId))).some((r) => r.callUuid === uuid && r.answeredAtMs !== null));
    const held = (await c.repo.listForClient(String(clientId))).find((r) => r.callUuid === uuid)!;
    assert.ok(held.reservedSeconds >= 60, `it holds a whole step (${held.reservedSeconds} s)`);
    await guard!.stop();
    guard = null;
    await c.until('the call over', ended(uuid));
    await live().flushCdrs();
    const billsec = cdrOf(uuid)!.billsec as number;
    await restartGuard();
    await c.until('its real cost held', async () => (await c.repo.listForClient(String(clientId))).some((r) => r.callUuid === uuid && r.state === 'ended' && r.reservedMicros === BigInt(billsec) * 10_000n));
    await c.bill();
    assert.equal(await c.balanceCents(clientId), 100n - BigInt(billsec));
  });

  test('the one call of a client short of credit holds all of it; a second call takes back what the first holds beyond its next seconds', async () => {
    const { clientId, service } = await c.client('0.30');
    const other = await c.service(clientId);
    const rowOf = async (uuid: string) => (await c.repo.listForClient(String(clientId))).find((r) => r.callUuid === uuid);
    const a = await c.place(service.extensions[0]!, '4165550211', { answerAfterMs: 100 });
    // Alone, it holds all 30 cents from its first extension on, and the PBX would end it there, guard or no guard.
    await c.until('a holding all the credit', async () => (await rowOf(a))?.reservedSeconds === 30);
    const answeredSec = Math.floor((await rowOf(a))!.answeredAtMs! / 1000);
    await c.until('its backstop at the credit end', () => commandsFor(a).includes(`sched_hangup ${answeredSec + 30} ${a} ALLOTTED_TIMEOUT`));
    const b = await c.place(other.extensions[0]!, '4165550212', { answerAfterMs: 100 });
    await c.until('b answered', answered(b));
    const first = (await rowOf(a))!;
    const talked = (Date.now() - first.answeredAtMs!) / 1000;
    assert.ok(first.reservedSeconds <= talked + 2 * TIGHT_LEAD_SECONDS + 2, `a gave back what it held beyond its next seconds: ${first.reservedSeconds} s after ${talked.toFixed(1)} s`);
    await c.until('both calls cut', () => ended(a)() && ended(b)(), 45_000);
    const total = (cdrOf(a)!.billsec as number) + (cdrOf(b)!.billsec as number);
    assert.ok(total <= 30 && total >= 28, `together ${total} s of the 30 the credit buys`);
    await c.bill();
    const balance = await c.balanceCents(clientId);
    assert.ok(balance >= 0n && balance <= 2n, `balance ${balance} cents`);
  });

  test('steps last at least a minute; a client short of credit holds only a few seconds ahead on each call', async () => {
    const rich = await c.client('10.00');
    const poor = await c.client('0.40');
    const second = await c.service(poor.clientId);
    const r = await c.place(rich.service.extensions[0]!, '4165550206', { answerAfterMs: 100 });
    const p1 = await c.place(poor.service.extensions[0]!, '4165550207', { answerAfterMs: 100 });
    const p2 = await c.place(second.extensions[0]!, '4165550208', { answerAfterMs: 100 });
    await c.until('all three answered', () => answered(r)() && answered(p1)() && answered(p2)());
    await sleep(3000);
    const rows = async (clientId: number) => (await c.repo.listForClient(String(clientId))).filter((x) => x.state === 'live');
    const richRow = (await rows(rich.clientId)).find((x) => x.callUuid === r)!;
    assert.ok(richRow.reservedSeconds >= 60, `a client with credit holds a minute at a time (${richRow.reservedSeconds} s)`);
    for (const row of await rows(poor.clientId)) {
      const talked = (Date.now() - row.answeredAtMs!) / 1000;
      // A tight step: up to two leads ahead, plus a second for the decision in flight.
      assert.ok(row.reservedSeconds <= talked + 2 * TIGHT_LEAD_SECONDS + 2, `${row.callUuid} holds ${row.reservedSeconds} s after ${talked.toFixed(1)} s of talk`);
    }
    for (const uuid of [r, p1, p2]) {
      const call = callOf(uuid);
      if (call) live().hangup(call, 'NORMAL_CLEARING', 'far-end');
    }
    await c.bill();
    assert.ok((await c.balanceCents(poor.clientId)) >= 0n);
  });
});
