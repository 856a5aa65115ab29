import type { SearchAttributeUpdatePair } from '@temporalio/common';
import { toMicros } from '../src/domain/money';
import type { LifecycleState } from '../src/domain/lifecycle/types';
import {
  CreditPositiveKey,
  LifecycleStateKey,
  PbxDriftKey,
  PbxServerKey,
  SuspendedSinceKey,
  SuspendModeKey,
  UsageStageKey,
  WhmcsClientIdKey,
} from './service-lifecycle.messages';
import { usageStageLabel } from '../src/domain/usage/included-minutes';

/** What admins filter on in the Web UI; a null value removes the attribute (e.g. the mode once unsuspended). */
export function lifecycleSearchAttributes(state: LifecycleState): SearchAttributeUpdatePair[] {
  const creditPositive = state.standing ? toMicros(state.standing.credit) > 0n : null;
  return [
    { key: LifecycleStateKey, value: state.status },
    { key: WhmcsClientIdKey, value: state.config.clientId },
    { key: PbxServerKey, value: state.config.server ?? 'default' },
    { key: PbxDriftKey, value: state.drift },
    { key: SuspendModeKey, value: state.suspension?.mode ?? null },
    { key: SuspendedSinceKey, value: state.suspension ? new Date(state.suspension.since) : null },
    { key: CreditPositiveKey, value: creditPositive },
    // Only once a billing run reported usage, so histories from before it upsert exactly as they did.
    ...(state.usage ? [{ key: UsageStageKey, value: usageStageLabel(state.usage) }] : []),
  ] as SearchAttributeUpdatePair[];
}
