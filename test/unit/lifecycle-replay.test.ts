/**
 * Replays recorded histories of the lifecycle workflow against today's code: a change that would break running
 * workflows (nondeterminism) fails here before it is deployed. Refresh with VOIPBILL_RECORD_HISTORIES=1 (see
 * test/integration/lifecycle.test.ts), and keep old files: they stand for workflows still running in production.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { workflowsPath } from '../../worker';

const dir = join(__dirname, '../fixtures/histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

test('recorded lifecycle histories replay without nondeterminism', { timeout: 120_000 }, async () => {
  assert.ok(files.length > 0, 'at least one recorded history');
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
  for (const file of files) {
    const history = historyFromJSON(JSON.parse(readFileSync(join(dir, file), 'utf8')));
    await Worker.runReplayHistory({ workflowBundle: { code } }, history, file.replace(/\.json$/, ''));
  }
});
