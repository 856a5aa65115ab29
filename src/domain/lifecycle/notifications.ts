/**
 * The client messages of the product we replace ("Low Balance Alert", "VoIP Zero Balance", the included-minutes
 * templates) and voipbill's own (auto top-up). Through WHMCS, its templates are sent by name with only what WHMCS does
 * not provide itself as custom variables (WHMCS gives every client template the client's names, its
 * currency-formatted credit and due balance, and each client custom field exactly as entered; a custom variable of
 * the same name would override those). Through SMTP the built-in texts below are rendered with the same values.
 * The low- and zero-balance messages concern the client's credit: they go once per client and crossing, whichever of
 * its services notices first (`clientConditions` says which crossing a standing is in).
 */
import { formatCents, MICROS_PER_CENT, roundHalfUp, toMicros } from '../money';
import { balanceVerdict, belowThreshold } from './rules';
import type { ClientStanding } from './types';

export type TemplateName =
  | 'Low Balance Alert'
  | 'VoIP Zero Balance'
  | 'VoIP Included Minutes Warning'
  | 'VoIP Included Minutes Exhausted'
  | 'VoIP Included Minutes Exhausted - Notify Only'
  | 'VoIP Auto Top-Up Succeeded'
  | 'VoIP Auto Top-Up Failed';

/**
 * The WHMCS template names voipbill sends, by default the product's: NOTIFY_TEMPLATE_NAMES may rename any of them.
 * The included-minutes warning has one template per warning stage, as the product has (Stage 1, Stage 2).
 */
export const TEMPLATE_IDS = [
  'Low Balance Alert',
  'VoIP Zero Balance',
  'Included Minutes Warning - Stage 1',
  'Included Minutes Warning - Stage 2',
  'Included Minutes Exhausted',
  'Included Minutes Exhausted - Notify Only',
  'VoIP Auto Top-Up Succeeded',
  'VoIP Auto Top-Up Failed',
] as const;
export type WhmcsTemplateId = (typeof TEMPLATE_IDS)[number];

/**
 * The WHMCS templates an install needs for what it uses: always the balance messages; the included-minutes ones
 * for packages with included minutes (a warning template per configured stage, the exhausted message of each mode);
 * the auto top-up ones when auto top-up is configured.
 */
export function templatesNeeded(uses: { includedMinutes: ReadonlyArray<{ mode: 'off' | 'warn' | 'block'; warnStages: readonly number[] }>; autoTopUp: boolean }): WhmcsTemplateId[] {
  const need = new Set<WhmcsTemplateId>(['Low Balance Alert', 'VoIP Zero Balance']);
  for (const im of uses.includedMinutes) {
    if (im.mode === 'off') continue;
    if (im.warnStages.length >= 1) need.add('Included Minutes Warning - Stage 1');
    if (im.warnStages.length >= 2) need.add('Included Minutes Warning - Stage 2');
    need.add(im.mode === 'block' ? 'Included Minutes Exhausted' : 'Included Minutes Exhausted - Notify Only');
  }
  if (uses.autoTopUp) {
    need.add('VoIP Auto Top-Up Succeeded');
    need.add('VoIP Auto Top-Up Failed');
  }
  return TEMPLATE_IDS.filter((t) => need.has(t));
}

/** Messages about the client's credit: one per client and crossing, not one per service. */
export const CLIENT_TEMPLATES: ReadonlySet<TemplateName> = new Set<TemplateName>(['Low Balance Alert', 'VoIP Zero Balance']);

/** The crossing a client template belongs to: 'low' (credit at or below the threshold) or 'zero' (held by the balance rules). */
export function clientTemplateKind(template: TemplateName): 'low' | 'zero' | undefined {
  return template === 'Low Balance Alert' ? 'low' : template === 'VoIP Zero Balance' ? 'zero' : undefined;
}

/** Which client crossings a standing is in: at or below the Low Balance Threshold, and held by the balance rules. */
export function clientConditions(standing: ClientStanding): { low: boolean; zero: boolean } {
  const v = balanceVerdict(standing);
  return { low: belowThreshold(standing), zero: standing.hasVoipService && 'suspend' in v && v.suspend };
}

/** The WHMCS template a message is sent with: the product's name (per warning stage), or the install's rename. */
export function whmcsTemplateName(template: TemplateName, extra: Record<string, string> = {}, names: Partial<Record<WhmcsTemplateId, string>> = {}): string {
  let id: WhmcsTemplateId;
  switch (template) {
    case 'VoIP Included Minutes Warning':
      id = extra.usage_stage_number === '2' ? 'Included Minutes Warning - Stage 2' : 'Included Minutes Warning - Stage 1';
      break;
    case 'VoIP Included Minutes Exhausted':
      id = 'Included Minutes Exhausted';
      break;
    case 'VoIP Included Minutes Exhausted - Notify Only':
      id = 'Included Minutes Exhausted - Notify Only';
      break;
    default:
      id = template;
  }
  return names[id] ?? id;
}

/**
 * The custom variables sent with a WHMCS template: only what WHMCS does not provide. The balance templates get none
 * (WHMCS has every client field they use); usage and top-up templates get their figures and the service.
 */
export function whmcsCustomVars(template: TemplateName, serviceId: string, extra: Record<string, string> = {}): Record<string, string> {
  if (CLIENT_TEMPLATES.has(template)) return {};
  return { ...extra, service_id: serviceId };
}

export interface MergeFields {
  client_first_name: string;
  client_name: string;
  client_id: string;
  client_credit: string;
  client_due_invoices_balance: string;
  client_custom_field_lowbalancethreshold: string;
  service_id: string;
}

function money2(decimal: string): string {
  // Display only: 2 decimals, half-up, from the exact value.
  return formatCents(roundHalfUp(toMicros(decimal), MICROS_PER_CENT));
}

export function mergeFields(standing: ClientStanding, clientId: string, serviceId: string): MergeFields {
  return {
    client_first_name: standing.contact?.firstName ?? '',
    client_name: standing.contact?.fullName ?? '',
    client_id: clientId,
    client_credit: money2(standing.credit),
    client_due_invoices_balance: money2(standing.dueInvoicesBalance),
    // As the client entered it, as WHMCS gives it to its templates (the product's templates append ".00" themselves).
    client_custom_field_lowbalancethreshold: standing.lowBalanceThresholdText ?? standing.lowBalanceThreshold ?? '',
    service_id: serviceId,
  };
}

/** Replaces WHMCS-style `{$name}` merge fields; unknown fields stay visible rather than vanishing. */
export function renderMergeFields(text: string, fields: Record<string, string>): string {
  return text.replace(/\{\$([a-z0-9_]+)\}/g, (whole, name: string) => (Object.hasOwn(fields, name) ? fields[name]! : whole));
}

const builtIn: Record<TemplateName, { subject: string; body: string }> = {
  'Low Balance Alert': {
    subject: 'Your VoIP account balance is low',
    body: [
      'Dear {$client_first_name},',
      '',
      'Your account is low in funding. Your VoIP service needs a positive balance to keep working.',
      '',
      'Account#: {$client_id}',
      'Current balance: ${$client_credit}',
      'Low balance threshold: ${$client_custom_field_lowbalancethreshold}',
      '',
      'Please add funds from the client area (Billing > Add Funds).',
    ].join('\n'),
  },
  'VoIP Zero Balance': {
    subject: 'Your VoIP service is suspended for lack of credit',
    body: [
      'Dear {$client_first_name},',
      '',
      'Your VoIP service is not active because your account has no available credit.',
      '',
      'Account#: {$client_id}',
      'Credit balance: ${$client_credit}',
      'Outstanding balance: ${$client_due_invoices_balance}',
      'Low balance threshold: ${$client_custom_field_lowbalancethreshold}',
      '',
      'Add funds from the client area (Billing > Add Funds); service resumes within seconds of the payment.',
    ].join('\n'),
  },
  // Included-minutes and auto top-up messages have extra merge fields: {$usage_stage}, {$usage_used_minutes}, {$usage_allowance_minutes}, {$usage_percent},
  // {$usage_period_end}; {$topup_amount}, {$topup_invoice_id}, {$topup_message}.
  'VoIP Included Minutes Warning': {
    subject: 'You have used {$usage_stage}% of your included minutes',
    body: [
      'Dear {$client_first_name},',
      '',
      'You have used {$usage_used_minutes} of the {$usage_allowance_minutes} minutes included in your plan this period ({$usage_percent}%).',
      'The period ends on {$usage_period_end}.',
      '',
      'Account#: {$client_id}',
    ].join('\n'),
  },
  'VoIP Included Minutes Exhausted': {
    subject: 'Your included minutes are used up: calling is paused until {$usage_period_end}',
    body: [
      'Dear {$client_first_name},',
      '',
      'You have used all {$usage_allowance_minutes} minutes included in your plan this period.',
      'Calling is paused until the new period starts on {$usage_period_end}; a top-up does not lift this.',
      '',
      'Account#: {$client_id}',
    ].join('\n'),
  },
  'VoIP Included Minutes Exhausted - Notify Only': {
    subject: 'Your included minutes are used up',
    body: [
      'Dear {$client_first_name},',
      '',
      'You have used all {$usage_allowance_minutes} minutes included in your plan this period.',
      'Calls continue at your plan\'s rates until the new period starts on {$usage_period_end}.',
      '',
      'Account#: {$client_id}',
    ].join('\n'),
  },
  'VoIP Auto Top-Up Succeeded': {
    subject: 'Your VoIP account was topped up by ${$topup_amount}',
    body: [
      'Dear {$client_first_name},',
      '',
      'Your balance was low, so we charged ${$topup_amount} to the card on file (invoice #{$topup_invoice_id}).',
      '',
      'Account#: {$client_id}',
      'Current balance: ${$client_credit}',
    ].join('\n'),
  },
  'VoIP Auto Top-Up Failed': {
    subject: 'We could not top up your VoIP account',
    body: [
      'Dear {$client_first_name},',
      '',
      'Your balance is low and the automatic top-up of ${$topup_amount} to the card on file failed: {$topup_message}.',
      'Please add funds from the client area (Billing > Add Funds) to keep your service working.',
      '',
      'Account#: {$client_id}',
      'Current balance: ${$client_credit}',
    ].join('\n'),
  },
};

export function renderBuiltInTemplate(template: TemplateName, fields: MergeFields, extra: Record<string, string> = {}): { subject: string; text: string } {
  const t = builtIn[template];
  const vars = { ...extra, ...(fields as unknown as Record<string, string>) };
  return { subject: renderMergeFields(t.subject, vars), text: renderMergeFields(t.body, vars) };
}
