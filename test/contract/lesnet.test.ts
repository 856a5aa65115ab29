/**
 * The PBX contract suites against the LES.NET adapter and its file double, with two different file layouts (the
 * real one is undocumented, so the mapping must be real configuration). Suspension: unsupported by default; with
 * `suspend.via` it is the service's PBX (here a Vodia double) that suspends, held to the same contract.
 */
import { after, before, describe } from 'node:test';
import type { LesnetAdapter } from '../../src/adapters/pbx/lesnet/adapter';
import type { VodiaAdapter } from '../../src/adapters/pbx/vodia/adapter';
import { FakeLesnetServer } from '../../src/doubles/lesnet/server';
import { FakeVodiaServer } from '../../src/doubles/vodia/server';
import { itBehavesLikeACdrSource } from './pbx-cdr-source.contract';
import { itBehavesLikeASuspendTarget } from './pbx-suspend-target.contract';
import { LESNET_VARIANTS, lesnetAdapter, lesnetCdrHarness } from './support/lesnet-harness';
import { vodiaAdapter, vodiaSuspendHarness } from './support/vodia-harness';

describe('LES.NET', () => {
  let fake: FakeLesnetServer;
  let vodia: FakeVodiaServer;
  let vodiaPbx: VodiaAdapter;
  const adapters: LesnetAdapter[] = [];
  before(async () => {
    fake = new FakeLesnetServer();
    await fake.start();
    vodia = new FakeVodiaServer();
    await vodia.start();
    vodiaPbx = vodiaAdapter(vodia);
  });
  after(async () => {
    for (const a of adapters) await a.close();
    await vodiaPbx?.close();
    await vodia?.stop();
    await fake?.stop();
  });
  const make = (variant: (typeof LESNET_VARIANTS)[number], delegate: VodiaAdapter | null = null) => {
    const a = lesnetAdapter(fake, variant, delegate);
    adapters.push(a);
    return a;
  };

  for (const variant of LESNET_VARIANTS) {
    itBehavesLikeACdrSource(`LES.NET (${variant.label})`, async () => lesnetCdrHarness(fake, variant, make(variant))());
  }

  itBehavesLikeASuspendTarget('LES.NET without a suspend method', [], async () => {
    const adapter = make(LESNET_VARIANTS[0]!);
    const base = await vodiaSuspendHarness(vodia, vodiaPbx)();
    return { ...base, adapter };
  });

  itBehavesLikeASuspendTarget('LES.NET suspending through the service’s PBX', ['gateway', 'extension'], async () => {
    const base = await vodiaSuspendHarness(vodia, vodiaPbx)();
    return { ...base, adapter: make(LESNET_VARIANTS[0]!, vodiaPbx) };
  });
});
