/** The charge state machine: which status may follow which, in the outbox and in the WHMCS ledger, and how one feeds the other. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ChargeTransitionError,
  checkLedgerMove,
  checkOutboxMove,
  initialOutboxStatus,
  ledgerMayMove,
  outboxMayMove,
  outboxStatusAfterPosting,
  POSTABLE_OUTBOX_STATUSES,
  type LedgerStatus,
  type OutboxStatus,
} from '../../src/domain/billing/charge-status';

const OUTBOX: OutboxStatus[] = ['pending', 'zero', 'posted', 'awaiting_credit', 'failed'];
const LEDGER: LedgerStatus[] = ['pending', 'posted', 'awaiting_credit', 'failed'];
const moves = <S extends string>(all: S[], may: (a: S, b: S) => boolean) => all.flatMap((a) => all.filter((b) => may(a, b)).map((b) => `${a}>${b}`)).sort();

describe('the outbox', () => {
  test('a new charge is pending, or zero when nothing is to post (refunds are pending too)', () => {
    assert.equal(initialOutboxStatus(250n), 'pending');
    assert.equal(initialOutboxStatus(-40n), 'pending');
    assert.equal(initialOutboxStatus(0n), 'zero');
  });

  test('exactly these moves: posting from pending or awaiting credit, and an admin retry of a refusal', () => {
    assert.deepEqual(
      moves(OUTBOX, outboxMayMove),
      ['awaiting_credit>failed', 'awaiting_credit>posted', 'failed>pending', 'pending>awaiting_credit', 'pending>failed', 'pending>posted'].sort(),
    );
    assert.throws(() => checkOutboxMove('usage:1:9', 'posted', 'pending'), ChargeTransitionError);
    assert.throws(() => checkOutboxMove('usage:1:9', 'zero', 'pending'), /usage:1:9: the outbox cannot go from zero to pending/);
  });
});

describe('the ledger', () => {
  test('exactly these moves; posted is final', () => {
    assert.deepEqual(
      moves(LEDGER, ledgerMayMove),
      ['awaiting_credit>awaiting_credit', 'awaiting_credit>failed', 'awaiting_credit>posted', 'failed>pending', 'pending>awaiting_credit', 'pending>failed', 'pending>posted'].sort(),
    );
    assert.throws(() => checkLedgerMove('vb-1', 'posted', 'failed'), ChargeTransitionError);
  });
});

describe('posting feeds the outbox from the ledger', () => {
  test('the outbox takes the ledger\'s answer, and only moves it allows', () => {
    for (const from of POSTABLE_OUTBOX_STATUSES) {
      for (const ledger of LEDGER) {
        const next = outboxStatusAfterPosting(from, ledger);
        if (next === null) continue;
        assert.equal(next, ledger);
        assert.ok(outboxMayMove(from, next), `${from} -> ${next}`);
      }
    }
  });

  test('an unanswered attempt (ledger still pending) and an unchanged status leave the outbox as it is', () => {
    assert.equal(outboxStatusAfterPosting('pending', 'pending'), null);
    assert.equal(outboxStatusAfterPosting('awaiting_credit', 'awaiting_credit'), null);
    assert.equal(outboxStatusAfterPosting('awaiting_credit', 'posted'), 'posted');
  });
});
