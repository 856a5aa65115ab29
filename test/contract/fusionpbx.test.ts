/**
 * The PBX contract suites against FusionPBX and its double, on each schema era the adapter must support:
 * 5.0 (text flags, no insert_date: keyed on end_epoch), 5.4 (text flags) and 5.5 (boolean flags).
 */
import { after, before, describe } from 'node:test';
import { FusionDouble } from '../../src/doubles/fusionpbx/double';
import type { FusionEra } from '../../src/doubles/fusionpbx/schema';
import type { FusionPbxAdapter } from '../../src/adapters/pbx/fusionpbx/adapter';
import { createTestDatabase, type TestDatabase } from '../../harness/db';
import { itBehavesLikeACdrSource } from './pbx-cdr-source.contract';
import { itBehavesLikeASuspendTarget } from './pbx-suspend-target.contract';
import { fusionAdapter, fusionCdrHarness, fusionSuspendHarness } from './support/fusion-harness';

for (const era of ['5.0', '5.4', '5.5'] as FusionEra[]) {
  describe(`FusionPBX ${era}`, () => {
    let db: TestDatabase;
    let double: FusionDouble;
    let adapter: FusionPbxAdapter;
    before(async () => {
      db = await createTestDatabase({ migrate: false });
      double = await FusionDouble.start({ pool: db.pool, era, eslPassword: 'esl-test-password' });
      adapter = fusionAdapter(db.url, double);
    });
    after(async () => {
      await adapter?.close();
      await double?.stop();
      await db?.drop();
    });

    itBehavesLikeACdrSource(`FusionPBX ${era}`, () => fusionCdrHarness(double, adapter)());
    itBehavesLikeASuspendTarget(`FusionPBX ${era}`, ['gateway', 'extension'], () => fusionSuspendHarness(double, adapter)());
  });
}
