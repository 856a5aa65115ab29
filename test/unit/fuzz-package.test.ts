/**
 * Property/fuzz tests of the rating-package schema: arbitrary JSON never crashes parsePackage, a rejection
 * is always a PackageValidationError whose issues name a field path, and a valid package with one field replaced by
 * garbage is rejected naming that field.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { PackageValidationError, parsePackage, safeParsePackage } from '../../src/domain/rating';

const TOP_LEVEL_FIELDS = [
  'name', 'description', 'currency', 'countryCode', 'internationalPrefix', 'nationalPrefix', 'nanp10Digit', 'stripPrefix',
  'markupPercent', 'outbound', 'inbound', 'exclude', 'special', 'specialOnly', 'unmatched', 'freeMinutes', 'freeMinutesMode',
  'freeMinutesAppliesTo', 'billingMode', 'includedMinutes', 'taxed', 'autobill',
];

/** Parses; fails the property on any throw that is not a PackageValidationError with well-formed issues. */
function attempt(value: unknown): { ok: true } | { ok: false; issues: Array<{ path: string; message: string }> } {
  try {
    const pkg = parsePackage(value);
    // An accepted package is plain JSON: it survives a JSON round trip unchanged and validates again.
    const json = (v: unknown): unknown => JSON.parse(JSON.stringify(v));
    assert.deepEqual(json(parsePackage(json(pkg))), json(pkg));
    return { ok: true };
  } catch (err) {
    assert.ok(err instanceof PackageValidationError, `parsePackage threw ${String(err)} for ${JSON.stringify(value)?.slice(0, 200)}`);
    assert.ok(err.issues.length >= 1);
    for (const i of err.issues) {
      assert.equal(typeof i.path, 'string');
      assert.ok(i.message.trim().length > 0, 'every issue has a message');
      assert.ok(err.message.includes(`${i.path || '(root)'}: ${i.message}`), 'the message lists path: message');
      // Root-level issues only when the value itself is not an object; otherwise a field is named.
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        // Unknown keys are named in the message (their path is the object holding them); every other issue has a path.
        if (i.message.startsWith('unknown field(s) ')) continue;
        assert.notEqual(i.path, '', `issue "${i.message}" on an object names a field`);
        assert.ok(TOP_LEVEL_FIELDS.includes(i.path.split(/[.[]/)[0]!), `path ${i.path} starts at a package field`);
      }
    }
    return { ok: false, issues: [...err.issues] };
  }
}

const MINIMAL = { name: 'Basic', currency: 'USD', countryCode: '1' };
const validPackage = fc.record(
  {
    name: fc.string({ minLength: 1, maxLength: 10 }),
    currency: fc.constantFrom('USD', 'CAD', 'EUR'),
    countryCode: fc.constantFrom('1', '44', '353'),
    markupPercent: fc.constantFrom('0', '12.5', '-50'),
    outbound: fc.record({ customRatePerMinute: fc.constantFrom('0.01', '', null), customIncrement: fc.constantFrom('6', '30/6', 60) }, { requiredKeys: [] }),
    inbound: fc.constantFrom({ billed: false }, { billed: true, ratePerMinute: '0.005' }),
    exclude: fc.constantFrom('911,411', ['611'], []),
    special: fc.constantFrom([], [{ pattern: '1800', direction: 'outbound', mode: 'flat_per_call', flat: '0.00' }]),
    freeMinutes: fc.constantFrom(0, 100, '30'),
    unmatched: fc.constantFrom('zero', 'hold'),
    includedMinutes: fc.constantFrom({}, { minutes: 500, mode: 'warn', warnStages: [50, 80] }),
  },
  { requiredKeys: ['name', 'currency', 'countryCode'] },
);

describe('package schema under arbitrary input', () => {
  test('arbitrary JSON values never throw anything but PackageValidationError with named paths', () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => void attempt(v)), { numRuns: 1500 });
  });

  test('arbitrary objects with package keys and any values never crash', () => {
    const anyField = fc.dictionary(fc.constantFrom(...TOP_LEVEL_FIELDS, 'unknownKey'), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 8 });
    fc.assert(fc.property(anyField, (partial) => void attempt({ ...MINIMAL, ...partial })), { numRuns: 1500 });
  });

  test('generated valid packages are accepted', () => {
    fc.assert(fc.property(validPackage, (pkg) => assert.deepEqual(attempt(pkg), { ok: true })), { numRuns: 500 });
  });

  test('a valid package with one field set to a wrong-typed value is rejected naming that field', () => {
    const wrong = fc.oneof(fc.constant({ nested: true }), fc.constant([1, 2]), fc.constant(-1.5), fc.constant('!!'), fc.constant(true), fc.constant(null));
    // Fields for which every value above is invalid (nullable or string-and-number fields are left out).
    const strict = ['currency', 'countryCode', 'nanp10Digit', 'markupPercent', 'inbound', 'special', 'specialOnly', 'unmatched', 'freeMinutes', 'freeMinutesMode', 'billingMode', 'includedMinutes'];
    fc.assert(
      fc.property(validPackage, fc.constantFrom(...strict), wrong, (pkg, field, value) => {
        if (['nanp10Digit', 'specialOnly'].includes(field) && typeof value === 'boolean') return;
        const accepted = safeParsePackage({ ...pkg, [field]: value });
        // `{}` or a default-able value may be valid for object fields; everything else must be refused.
        if (accepted.ok) {
          assert.ok(['inbound', 'includedMinutes'].includes(field) && typeof value === 'object', `${field}=${JSON.stringify(value)} was accepted`);
          return;
        }
        assert.ok(
          accepted.issues.some((i) => i.path === field || i.path.startsWith(`${field}.`) || i.path.startsWith(`${field}[`)),
          `issues ${JSON.stringify(accepted.issues)} name ${field}`,
        );
      }),
      { numRuns: 800 },
    );
  });

  test('an unknown key is named, never silently ignored', () => {
    fc.assert(
      fc.property(validPackage, fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !TOP_LEVEL_FIELDS.includes(k) && k !== '__proto__'), (pkg, key) => {
        const r = safeParsePackage({ ...pkg, [key]: 1 });
        assert.equal(r.ok, false);
        if (!r.ok) assert.ok(r.issues.some((i) => i.message.includes(JSON.stringify(key))), `issues name ${JSON.stringify(key)}`);
      }),
      { numRuns: 300 },
    );
  });
});
