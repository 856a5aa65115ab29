/**
 * integrations/fusionpbx/voipbill_authorize.lua run in a Lua VM (fengari) against a scripted FreeSWITCH session: the
 * script holds a new outbound call until the credit guard's `uuid_setvar <uuid> voipbill_auth allow`, hangs it up on
 * `deny`, lets emergency numbers through at once, and on its timeout bridges or refuses the call as configured.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { lauxlib, lua, lualib, to_luastring, to_jsstring } from 'fengari';

const SCRIPT = readFileSync(join(__dirname, '../../integrations/fusionpbx/voipbill_authorize.lua'), 'utf8');

interface Run {
  /** session:sleep calls (the script's looks at the variable). */
  sleeps: number;
  hungUp: string | null;
  logged: string | null;
}

/**
 * Runs the script with FreeSWITCH's Lua globals (`argv`, `session`, `freeswitch`) replaced by a scripted session
 * whose clock moves only when the script sleeps. `word` appears in `voipbill_auth` after `after` sleeps.
 */
function run(o: { args: string[]; dest: string; word?: string; after?: number; callerHangsUpAfter?: number }): Run {
  const prelude = `
    local clock = 1000000
    os.time = function() return math.floor(clock) end
    vars = { destination_number = ${JSON.stringify(o.dest)} }
    sleeps, hungup, logged = 0, nil, nil
    session = {}
    function session:ready() return hungup == nil and (${o.callerHangsUpAfter ?? -1} < 0 or sleeps < ${o.callerHangsUpAfter ?? -1}) end
    function session:getVariable(name) return vars[name] end
    function session:sleep(ms)
      sleeps = sleeps + 1
      clock = clock + ms / 1000
      ${o.word !== undefined ? `if sleeps >= ${o.after ?? 0} then vars.voipbill_auth = ${JSON.stringify(o.word)} end` : ''}
    end
    function session:hangup(cause) hungup = cause end
    function session:get_uuid() return "7f4c" end
    freeswitch = { consoleLog = function(level, message) logged = level .. " " .. message end }
    argv = { [0] = "voipbill_authorize.lua", ${o.args.map((a) => JSON.stringify(a)).join(', ')} }
  `;
  const L = lauxlib.luaL_newstate();
  lualib.luaL_openlibs(L);
  for (const chunk of [prelude, SCRIPT]) {
    if (lauxlib.luaL_loadstring(L, to_luastring(chunk)) !== lua.LUA_OK || lua.lua_pcall(L, 0, 0, 0) !== lua.LUA_OK) {
      throw new Error(`lua: ${to_jsstring(lua.lua_tostring(L, -1))}`);
    }
  }
  const global = (name: string): string | number | null => {
    lua.lua_getglobal(L, to_luastring(name));
    const v = lua.lua_isnil(L, -1) ? null : lua.lua_type(L, -1) === lua.LUA_TNUMBER ? lua.lua_tonumber(L, -1) : to_jsstring(lua.lua_tostring(L, -1));
    lua.lua_pop(L, 1);
    return v;
  };
  return { sleeps: global('sleeps') as number, hungUp: global('hungup') as string | null, logged: global('logged') as string | null };
}

describe('voipbill_authorize.lua', () => {
  test('the call waits until the guard says allow, then goes on to the bridge', () => {
    const r = run({ args: ['20', 'allow', '911,933'], dest: '4165550101', word: 'allow', after: 7 });
    assert.equal(r.sleeps, 7, 'it looked until the word came');
    assert.equal(r.hungUp, null);
    assert.equal(r.logged, null);
  });

  test('deny hangs the call up as barred', () => {
    const r = run({ args: ['20', 'allow', '911'], dest: '4165550101', word: 'deny', after: 3 });
    assert.equal(r.hungUp, 'OUTGOING_CALL_BARRED');
  });

  test('emergency numbers never wait', () => {
    const r = run({ args: ['20', 'refuse', '911,933'], dest: '933' });
    assert.deepEqual([r.sleeps, r.hungUp], [0, null]);
  });

  test('without a word by the timeout: `allow` bridges the call anyway, `refuse` hangs it up; both are logged', () => {
    const allow = run({ args: ['3', 'allow', '911'], dest: '4165550101' });
    assert.equal(allow.hungUp, null);
    assert.ok(allow.sleeps >= 3 * 50 && allow.sleeps <= 3 * 50 + 50, `about three seconds of 20 ms looks: ${allow.sleeps}`);
    assert.match(allow.logged ?? '', /^WARNING voipbill_authorize: no decision for 7f4c within 3 s: allow/);
    const refuse = run({ args: ['3', 'refuse', '911'], dest: '4165550101' });
    assert.equal(refuse.hungUp, 'OUTGOING_CALL_BARRED');
  });

  test('a caller who hangs up while waiting ends the wait', () => {
    const r = run({ args: ['20', 'allow', '911'], dest: '4165550101', callerHangsUpAfter: 4 });
    assert.deepEqual([r.sleeps, r.hungUp], [4, null]);
  });
});
