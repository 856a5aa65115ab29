/**
 * Replays every recorded workflow history (test/fixtures/histories: lifecycle, billing runs, reconciliation)
 * against today's code: a change that would break running workflows (nondeterminism) fails here before it is
 * deployed. Recordings are added by test/workflows/recorded-branches.test.ts (VOIPBILL_RECORD_HISTORIES=1) and never
 * overwritten: each stands for workflows that may still be running in production (docs/versioning.md).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { workflowsPath } from '../../worker';
import { ALL_PATCHES } from '../../workflows/patches';
import { historiesDir, historyFiles, patchesIn } from '../support/histories';

const files = historyFiles();

test('recorded workflow histories replay without nondeterminism', { timeout: 120_000 }, async () => {
  assert.ok(files.length > 0, 'at least one recorded history');
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
  for (const file of files) {
    const history = historyFromJSON(JSON.parse(readFileSync(join(historiesDir, file), 'utf8')));
    await Worker.runReplayHistory({ workflowBundle: { code } }, history, file.replace(/\.json$/, ''));
  }
});

test('every versioning marker the workflows use has a recorded history that goes through it', () => {
  const recorded = new Set(files.flatMap(patchesIn));
  assert.deepEqual(ALL_PATCHES.filter((id) => !recorded.has(id)), []);
});

test('the billing run and the reconciliation sweep have recorded histories', () => {
  const types = new Set(
    files.map((f) => (JSON.parse(readFileSync(join(historiesDir, f), 'utf8')) as { events: Array<{ workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } } }> }).events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name),
  );
  for (const name of ['serviceLifecycle', 'billingRun', 'reconcileServices']) assert.ok(types.has(name), name);
});
