/** The demo PBX control places calls on the demo's PBX: it answers this machine's clients only. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLoopback } from '../../src/demo/pbx-control';

test('only loopback peers (IPv4 127/8, IPv6 ::1, IPv4-mapped) count as this machine', () => {
  for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) assert.equal(isLoopback(a), true, a);
  for (const a of ['10.0.0.5', '192.168.1.2', '::ffff:10.0.0.5', 'fe80::1', '0.0.0.0', '', undefined, '127.0.0.1.evil', '1127.0.0.1']) assert.equal(isLoopback(a), false, String(a));
});
