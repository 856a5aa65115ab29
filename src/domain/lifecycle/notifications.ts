/**
 * The two client messages of the product we replace, "Low Balance Alert" and "VoIP Zero Balance", with its merge
 * fields. Sent through WHMCS (its own templates, fed these values as custom variables) or through SMTP with the
 * built-in texts below rendered the same way.
 */
import { formatCents, MICROS_PER_CENT, roundHalfUp, toMicros } from '../money';
import type { ClientStanding } from './types';

export type TemplateName =
  | 'Low Balance Alert'
  | 'VoIP Zero Balance'
  | 'VoIP Included Minutes Warning'
  | 'VoIP Included Minutes Exhausted'
  | 'VoIP Included Minutes Exhausted - Notify Only'
  | 'VoIP Auto Top-Up Succeeded'
  | 'VoIP Auto Top-Up Failed';

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
    // As entered: the product's own WHMCS templates append ".00" to this field themselves.
    client_custom_field_lowbalancethreshold: standing.lowBalanceThreshold ?? '',
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
