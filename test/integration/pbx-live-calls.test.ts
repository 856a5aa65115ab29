/**
 * The FusionPBX double's live calls, over a raw TCP connection (no voipbill client code): FreeSWITCH's event frames
 * for a subscribed, filtered listener, the replies of uuid_kill / sched_hangup / sched_del / uuid_broadcast /
 * show channels as json as mod_commands.c writes them, and the CDR row each call leaves with FreeSWITCH's billsec.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { FusionDouble } from '../../src/doubles/fusionpbx/double';
import { seedTenant, type SeededTenant } from '../../src/doubles/fusionpbx/seed';
import { createTestDatabase, type TestDatabase } from '../../harness/db';

let db: TestDatabase;
let double: FusionDouble;
let tenant: SeededTenant;

before(async () => {
  db = await createTestDatabase({ migrate: false });
  double = await FusionDouble.start({ pool: db.pool, era: '5.5' });
  tenant = await seedTenant(db.pool, '5.5', { domainName: 'live.pbx.test', gateways: [{ name: 'gw' }], extensions: [{ extension: '2001' }] });
});
after(async () => {
  await double?.stop();
  await db?.drop();
});

async function raw(): Promise<{ socket: Socket; data: () => string; waitFor: (re: RegExp) => Promise<RegExpMatchArray> }> {
  const socket = connect({ host: '127.0.0.1', port: double.esl.port });
  let data = '';
  const waiters: Array<() => void> = [];
  socket.on('data', (c: Buffer) => {
    data += c.toString('utf8');
    for (const w of waiters.splice(0)) w();
  });
  await new Promise<void>((ok) => socket.once('connect', () => ok()));
  const waitFor = async (re: RegExp) => {
    for (let i = 0; i < 400; i++) {
      const m = data.match(re);
      if (m) return m;
      await new Promise<void>((ok) => {
        waiters.push(ok);
        setTimeout(ok, 50);
      });
    }
    throw new Error(`never received ${re}: ${data.slice(-500)}`);
  };
  return { socket, data: () => data, waitFor };
}

const api = async (c: Awaited<ReturnType<typeof raw>>, command: string): Promise<string> => {
  const before = c.data().length;
  c.socket.write(`api ${command}\n\n`);
  const m = await c.waitFor(new RegExp(`[\\s\\S]{${before}}[\\s\\S]*?Content-Type: api/response\\nContent-Length: (\\d+)\\n\\n`));
  const start = (m.index ?? 0) + m[0].length;
  const length = Number(m[1]);
  await c.waitFor(new RegExp(`[\\s\\S]{${start + length}}`));
  return Buffer.from(c.data().slice(start)).subarray(0, length).toString('utf8');
};

describe('FusionPBX double: live calls over the event socket', () => {
  test('a filtered plain subscription gets the caller leg\'s events, framed and URL-encoded as FreeSWITCH does', async () => {
    const c = await raw();
    c.socket.write('auth ClueCon\n\nfilter Call-Direction inbound\n\nevent plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE NOSUCH\n\n');
    await c.waitFor(/Reply-Text: \+OK filter added\. \[Call-Direction\]=\[inbound\]\n\n/);
    await c.waitFor(/Reply-Text: \+OK event listener enabled plain\n\n/);
    const uuid = double.esl.state.live.place({ tenant, extension: '2001', number: '4165550100', answerAfterMs: 100, talkMs: 300, callerName: 'Zoë Smith' });
    await c.waitFor(/Event-Name: CHANNEL_HANGUP_COMPLETE/);
    const frames = [...c.data().matchAll(/Content-Length: (\d+)\nContent-Type: text\/event-plain\n\n/g)];
    assert.ok(frames.length >= 3);
    for (const f of frames) {
      const body = Buffer.from(c.data().slice((f.index ?? 0) + f[0].length)).subarray(0, Number(f[1])).toString('utf8');
      assert.match(body, /^Event-Name: CHANNEL_/);
      assert.ok(body.endsWith('\n\n'), 'a plain event ends with an empty line');
      assert.match(body, /\nCall-Direction: inbound\n/, 'the filter let only the caller leg through');
      assert.match(body, new RegExp(`\\nUnique-ID: ${uuid}\\n`));
      assert.match(body, /\nvariable_effective_caller_id_name: Zo%C3%AB%20Smith\n/);
      assert.match(body, /\nChannel-Presence-ID: 2001%40live\.pbx\.test\n/);
    }
    assert.match(c.data(), /Event-Name: CHANNEL_HANGUP_COMPLETE\n[\s\S]*\nvariable_billsec: \d+\n/);
    c.socket.destroy();
  });

  test('uuid_kill, sched_hangup (relative, absolute, past) and sched_del answer as mod_commands does', async () => {
    const c = await raw();
    c.socket.write('auth ClueCon\n\n');
    await c.waitFor(/\+OK accepted/);
    const live = double.esl.state.live;
    assert.equal(await api(c, 'uuid_kill'), '-USAGE: <uuid> [cause]\n');
    assert.equal(await api(c, 'uuid_kill 00000000-0000-0000-0000-000000000000'), '-ERR No such channel!\n');
    assert.equal(await api(c, 'sched_hangup'), '-USAGE: [+]<time> <uuid> [<cause>]\n');
    const a = live.place({ tenant, extension: '2001', number: '4165550101', answerAfterMs: 50, talkMs: 60_000 });
    assert.equal(await api(c, `sched_hangup +30 ${a} ALLOTTED_TIMEOUT`), '+OK\n');
    assert.equal(await api(c, `sched_hangup ${Math.floor(Date.now() / 1000) + 40} ${a} ALLOTTED_TIMEOUT`), '+OK\n');
    // An absolute time already past becomes an offset from now in switch_scheduler_add_task: it never fires soon.
    const past = Math.floor(Date.now() / 1000) - 100;
    assert.equal(await api(c, `sched_hangup ${past} ${a}`), '+OK\n');
    assert.ok(live.scheduled().some((t) => t.group === a && t.runtime > past * 2 - 1));
    assert.equal(await api(c, `sched_del ${a}`), '+OK Deleted: 3\n');
    assert.equal(await api(c, `uuid_broadcast ${a} tone_stream://%(500,500,480,620);loops=2 aleg`), '+OK Message sent\n');
    assert.equal(await api(c, 'uuid_broadcast nosuch tone_stream://%(500,500,480,620)'), '-ERR invalid uuid\n');
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(await api(c, `uuid_kill ${a} ALLOTTED_TIMEOUT`), '+OK\n');
    const cdr = live.cdrs.find((r) => r.uuid === a)!;
    assert.equal(cdr.hangupCause, 'ALLOTTED_TIMEOUT');
    assert.equal(cdr.billsec, (cdr.endEpoch as number) - cdr.answerEpoch, 'billsec = ⌊hang-up⌋ − ⌊answer⌋');
    await live.flushCdrs();
    const { rows } = await db.pool.query('SELECT billsec, hangup_cause FROM v_xml_cdr WHERE xml_cdr_uuid = $1', [a]);
    assert.deepEqual(rows, [{ billsec: String(cdr.billsec), hangup_cause: 'ALLOTTED_TIMEOUT' }]);
    // A scheduled hang-up in the near future ends the call by itself.
    const b = live.place({ tenant, extension: '2001', number: '4165550102', answerAfterMs: 50, talkMs: 60_000 });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await api(c, `sched_hangup +1 ${b}`), '+OK\n');
    for (let i = 0; i < 60 && !live.cdrs.some((r) => r.uuid === b); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(live.cdrs.find((r) => r.uuid === b)?.hangupCause, 'ALLOTTED_TIMEOUT');
    c.socket.destroy();
  });

  test('show channels as json lists every leg with the channels table\'s columns as text; none is the literal with a space', async () => {
    const c = await raw();
    c.socket.write('auth ClueCon\n\n');
    await c.waitFor(/\+OK accepted/);
    double.esl.state.live.reset();
    assert.equal(await api(c, 'show channels as json'), '{"row_count": 0}\n');
    const a = double.esl.state.live.place({ tenant, extension: '2001', number: '4165550103', answerAfterMs: 50, talkMs: 60_000 });
    await new Promise((r) => setTimeout(r, 200));
    const parsed = JSON.parse(await api(c, 'show channels as json')) as { row_count: number; rows: Array<Record<string, string>> };
    assert.equal(parsed.row_count, 2);
    const aleg = parsed.rows.find((r) => r.uuid === a)!;
    assert.equal(aleg.direction, 'inbound');
    assert.equal(aleg.callstate, 'ACTIVE');
    assert.equal(aleg.presence_id, '2001@live.pbx.test');
    assert.equal(typeof aleg.created_epoch, 'string');
    assert.ok(Object.values(aleg).every((v) => typeof v === 'string'));
    await api(c, `uuid_kill ${a}`);
    c.socket.destroy();
  });
});
