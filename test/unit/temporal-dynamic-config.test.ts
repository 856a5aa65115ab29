/**
 * One dynamic configuration for every Temporal voipbill runs on: the dev server gets it as flags, the tested cluster
 * and docker-compose.yml mount deploy/temporal/dynamicconfig.yaml. A value added to one and not the other would make
 * the tested topology differ from the deployed one.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { devServerDynamicConfig } from '../../src/runtime/temporal-dev-server';
import { dynamicConfigFile } from '../../src/runtime/temporal-cluster';

describe('Temporal dynamic configuration', () => {
  test('the dev server flags and the shared file hold the same keys and values', () => {
    const file = parse(readFileSync(dynamicConfigFile, 'utf8')) as Record<string, Array<{ value: unknown; constraints?: unknown }>>;
    const fromFile = Object.entries(file)
      .map(([key, entries]) => {
        assert.equal(entries.length, 1, `${key}: one unconstrained value`);
        assert.equal(entries[0]!.constraints, undefined, `${key}: no constraints`);
        return `${key}=${String(entries[0]!.value)}`;
      })
      .sort();
    assert.deepEqual([...devServerDynamicConfig].sort(), fromFile);
  });
});
