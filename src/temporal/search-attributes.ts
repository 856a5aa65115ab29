/**
 * voipbill's custom search attributes: what admins filter on in the Web UI and `temporal workflow list --query`.
 * Workflows and clients import these keys; the dev server and `ensureSearchAttributes` register them.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { lifecycleSearchAttributeKeys } from '../../workflows/service-lifecycle.messages';
import { creditGuardSearchAttributeKeys } from '../../workflows/credit-guard.messages';

// The lifecycle workflow's contract owns the keys it sets; re-exported for the callers that list by them.
export { CreditPositiveKey, LifecycleStateKey, PbxDriftKey, PbxServerKey, SuspendedSinceKey, SuspendModeKey, UsageStageKey, WhmcsClientIdKey } from '../../workflows/service-lifecycle.messages';
/** Registered for billing runs; no workflow sets it yet. */
export const BillingSourceKey = defineSearchAttributeKey('VoipBillingSource', SearchAttributeType.KEYWORD);

export const allSearchAttributes = [...lifecycleSearchAttributeKeys, BillingSourceKey, ...creditGuardSearchAttributeKeys];

const cliTypeName: Record<string, string> = {
  [SearchAttributeType.KEYWORD]: 'Keyword',
  [SearchAttributeType.DATETIME]: 'Datetime',
  [SearchAttributeType.BOOL]: 'Bool',
  [SearchAttributeType.INT]: 'Int',
  [SearchAttributeType.TEXT]: 'Text',
  [SearchAttributeType.DOUBLE]: 'Double',
  [SearchAttributeType.KEYWORD_LIST]: 'KeywordList',
};

/** `--search-attribute Name=Type` flags for `temporal server start-dev`. */
export function devServerSearchAttributeFlags(): string[] {
  return allSearchAttributes.flatMap((k) => ['--search-attribute', `${k.name}=${cliTypeName[k.type]}`]);
}
