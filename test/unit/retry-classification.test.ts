/**
 * Retry classification is defined once per peer (src/ports/*-errors.ts) and agrees with the error classes' own
 * `retryable` flags; activities report every error the same way (activities/failures.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import * as pbxErrors from '../../src/adapters/pbx/errors';
import { ProductFieldError } from '../../src/domain/services/product-fields';
import * as whmcsErrors from '../../src/adapters/whmcs/errors';
import { WhmcsChargeConflictError, WhmcsChargeInvalidError } from '../../src/adapters/whmcs/charging';
import { NotifyConfigError } from '../../src/adapters/notify/client-messages';
import { SourceConfigError } from '../../src/billing/ingest';
import { activityFailure, withActivityFailures } from '../../activities/failures';
import { WHMCS_CHARGE_NON_RETRYABLE_ERROR_TYPES, WHMCS_NON_RETRYABLE_ERROR_TYPES, WHMCS_RETRYABLE_ERROR_TYPES } from '../../src/ports/whmcs-errors';
import { PBX_NON_RETRYABLE_ERROR_TYPES, PBX_RETRYABLE_ERROR_TYPES, PBX_TARGET_ERROR_TYPES } from '../../src/ports/pbx-errors';
import { SOURCE_CONFIG_ERROR_TYPES } from '../../src/ports/source-errors';
import { NOTIFY_NON_RETRYABLE_ERROR_TYPES } from '../../src/ports/notify-errors';
import { CONFIG_ERROR_TYPES } from '../../src/ports/config-errors';
import { ProductsFileError } from '../../src/adapters/services/products-file';
import { RatingFileError } from '../../src/adapters/rating/rating-files';
import { DeckImportError, PackageValidationError } from '../../src/domain/rating/errors';
import { activityOptions } from '../../workflows/retry-policies';

const sorted = (xs: readonly string[]) => [...xs].sort();
const byFlag = (errors: Array<{ name: string; retryable: boolean }>, retryable: boolean) => sorted(errors.filter((e) => e.retryable === retryable).map((e) => e.name));

/** One instance of every exported error class of a module that extends `base` (a new class must be listed here). */
function instancesOf(mod: Record<string, unknown>, base: abstract new (...args: never[]) => Error, make: (cls: new (...args: never[]) => Error) => Error): Error[] {
  return Object.values(mod)
    .filter((v): v is new (...args: never[]) => Error => typeof v === 'function' && v.prototype instanceof base)
    .map(make);
}

describe('WHMCS', () => {
  test('the lists name exactly the WHMCS error classes, by their retryable flag', () => {
    const errors = instancesOf(whmcsErrors, whmcsErrors.WhmcsError, (cls) => {
      const c = cls as unknown as new (...a: unknown[]) => whmcsErrors.WhmcsError;
      return cls === (whmcsErrors.WhmcsAuthError as unknown) ? new c('credentials', 'x', 'GetClients', 200) : new c('x', 'GetClients', 200, true);
    }) as whmcsErrors.WhmcsError[];
    assert.equal(errors.length, 6);
    assert.deepEqual(byFlag(errors, false), sorted(WHMCS_NON_RETRYABLE_ERROR_TYPES));
    assert.deepEqual(byFlag(errors, true), sorted(WHMCS_RETRYABLE_ERROR_TYPES));
    assert.deepEqual(sorted(WHMCS_CHARGE_NON_RETRYABLE_ERROR_TYPES), sorted([new WhmcsChargeConflictError('x').name, new WhmcsChargeInvalidError('x').name]));
  });
});

describe('PBX', () => {
  test('the lists name exactly the PBX error classes, by their retryable flag', () => {
    const errors = [
      ...instancesOf(pbxErrors, pbxErrors.PbxError, (cls) => new (cls as unknown as new (...a: unknown[]) => Error)('x', 'fusion1', 'reply')),
      new ProductFieldError('domain', 'x', 'is not readable'),
    ] as unknown as pbxErrors.PbxError[];
    assert.equal(errors.length, 11);
    assert.deepEqual(byFlag(errors, false), sorted(PBX_NON_RETRYABLE_ERROR_TYPES));
    assert.deepEqual(byFlag(errors, true), sorted(PBX_RETRYABLE_ERROR_TYPES));
  });

  test('the target errors a suspension fails on at once are non-retryable PBX errors', () => {
    for (const t of PBX_TARGET_ERROR_TYPES) assert.ok((PBX_NON_RETRYABLE_ERROR_TYPES as readonly string[]).includes(t), t);
  });
});

describe('voipbill\'s own configuration', () => {
  test('source configuration and message channel errors are named by their classes', () => {
    assert.deepEqual([...SOURCE_CONFIG_ERROR_TYPES], [new SourceConfigError('x').name]);
    assert.deepEqual([...NOTIFY_NON_RETRYABLE_ERROR_TYPES], [new NotifyConfigError('x').name]);
  });
});

describe('activity failures', () => {
  const nonRetryable = (err: unknown) => {
    const f = activityFailure(err);
    assert.ok(f instanceof ApplicationFailure, String(f));
    return { type: f.type, nonRetryable: f.nonRetryable, message: f.message };
  };

  test('errors no retry can cure fail for good, typed by their class', () => {
    assert.deepEqual(nonRetryable(new SourceConfigError('server x: set billFrom')), { type: 'SourceConfigError', nonRetryable: true, message: 'server x: set billFrom' });
    assert.deepEqual(nonRetryable(new NotifyConfigError('no SMTP_URL')), { type: 'NotifyConfigError', nonRetryable: true, message: 'no SMTP_URL' });
    assert.equal(nonRetryable(new WhmcsChargeInvalidError('no lines')).type, 'WhmcsChargeInvalidError');
    assert.equal(nonRetryable(new WhmcsChargeConflictError('reused key')).nonRetryable, true);
  });

  test("a peer's errors keep their type and are left to the workflow's retry policy", () => {
    const transport = new whmcsErrors.WhmcsTransportError('timeout', 'AddCredit', null, true);
    const auth = new pbxErrors.PbxAuthError('bad password', 'fusion1');
    assert.equal(activityFailure(transport), transport);
    assert.equal(activityFailure(auth), auth);
    const given = ApplicationFailure.nonRetryable('as is', 'PbxConfigError');
    assert.equal(activityFailure(given), given);
  });

  test('every activity of a set reports through it', async () => {
    const acts = withActivityFailures({
      refuse: async () => {
        throw new SourceConfigError('server gone');
      },
      ok: async (n: number) => n + 1,
    });
    assert.equal(await acts.ok(1), 2);
    await assert.rejects(acts.refuse(), (err: unknown) => err instanceof ApplicationFailure && err.nonRetryable && err.type === 'SourceConfigError');
  });
});

describe('configuration errors are never retried', () => {
  test('the list names real error classes', () => {
    const names = [
      new whmcsErrors.WhmcsConfigError('WHMCS_URL not set', 'GetClients'),
      new pbxErrors.PbxConfigError('no server x', 'x'),
      new SourceConfigError('x'),
      new NotifyConfigError('x'),
      new ProductsFileError('x'),
      new RatingFileError('p.json', 'x'),
      new PackageValidationError([]),
      new DeckImportError([]),
    ].map((e) => e.name);
    assert.deepEqual(sorted(names), sorted(CONFIG_ERROR_TYPES));
  });

  test('every activity policy lists them as non-retryable: a workflow fails or waits with the reason, never retries forever', () => {
    for (const [name, options] of Object.entries(activityOptions)) {
      // The smoke workflow's one activity writes an audit row: it reads no configuration.
      if (name === 'smoke') continue;
      const listed: readonly string[] = ('retry' in options ? options.retry.nonRetryableErrorTypes : undefined) ?? [];
      for (const type of CONFIG_ERROR_TYPES) assert.ok(listed.includes(type), `${name} retries ${type}`);
    }
  });
});
