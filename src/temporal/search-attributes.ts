/**
 * voipbill's custom search attributes: what admins filter on in the Web UI and `temporal workflow list --query`.
 * Workflows and clients import these keys; the dev server and `ensureSearchAttributes` register them.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const LifecycleStateKey = defineSearchAttributeKey('VoipLifecycleState', SearchAttributeType.KEYWORD);
export const SuspendModeKey = defineSearchAttributeKey('VoipSuspendMode', SearchAttributeType.KEYWORD);
export const SuspendedSinceKey = defineSearchAttributeKey('VoipSuspendedSince', SearchAttributeType.DATETIME);
export const WhmcsClientIdKey = defineSearchAttributeKey('VoipClientId', SearchAttributeType.KEYWORD);
export const PbxServerKey = defineSearchAttributeKey('VoipPbxServer', SearchAttributeType.KEYWORD);
export const PbxDriftKey = defineSearchAttributeKey('VoipPbxDrift', SearchAttributeType.BOOL);
export const CreditPositiveKey = defineSearchAttributeKey('VoipCreditPositive', SearchAttributeType.BOOL);
export const BillingSourceKey = defineSearchAttributeKey('VoipBillingSource', SearchAttributeType.KEYWORD);
/** Issue 9: included minutes this period: off, none, a warning stage ("50", "80"), or exhausted. */
export const UsageStageKey = defineSearchAttributeKey('VoipUsageStage', SearchAttributeType.KEYWORD);

export const allSearchAttributes = [
  LifecycleStateKey,
  SuspendModeKey,
  SuspendedSinceKey,
  WhmcsClientIdKey,
  PbxServerKey,
  PbxDriftKey,
  CreditPositiveKey,
  BillingSourceKey,
  UsageStageKey,
];

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
