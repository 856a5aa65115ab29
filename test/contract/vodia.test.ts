/**
 * The PBX contract suites against the Vodia adapter and its REST double: with Basic auth over a newest-first CDR
 * list, and with the legacy session-cookie login over an oldest-first list (both orders are unconfirmed).
 * Small API pages (3) make every fetch cross page boundaries.
 */
import { after, before, describe } from 'node:test';
import type { VodiaAdapter } from '../../src/adapters/pbx/vodia/adapter';
import { FakeVodiaServer } from '../../src/doubles/vodia/server';
import { itBehavesLikeACdrSource } from './pbx-cdr-source.contract';
import { itBehavesLikeASuspendTarget } from './pbx-suspend-target.contract';
import { vodiaAdapter, vodiaCdrHarness, vodiaSuspendHarness } from './support/vodia-harness';

const variants = [
  { label: 'Basic auth, newest-first', order: 'newest-first', config: { auth: 'basic', cdr: { pageSize: 3 } } },
  { label: 'session login, oldest-first', order: 'oldest-first', config: { auth: 'session', cdr: { pageSize: 3 } } },
] as const;

for (const v of variants) {
  describe(`Vodia (${v.label})`, () => {
    let fake: FakeVodiaServer;
    let adapter: VodiaAdapter;
    before(async () => {
      fake = new FakeVodiaServer({ cdrOrder: v.order });
      await fake.start();
      adapter = vodiaAdapter(fake, v.config);
    });
    after(async () => {
      await adapter?.close();
      await fake?.stop();
    });

    itBehavesLikeACdrSource(`Vodia (${v.label})`, () => vodiaCdrHarness(fake, adapter)());
    itBehavesLikeASuspendTarget(`Vodia (${v.label})`, ['gateway', 'extension'], () => vodiaSuspendHarness(fake, adapter)());
  });
}
