/**
 * The two client messages of the product we replace, "Low Balance Alert" and "VoIP Zero Balance", with its merge
 * fields. Sent through WHMCS (its own templates, fed these values as custom variables) or through SMTP with the
 * built-in texts below rendered the same way.
 */
import { formatCents, MICROS_PER_CENT, roundHalfUp, toMicros } from '../money';
import type { ClientStanding } from './types';

export type TemplateName = 'Low Balance Alert' | 'VoIP Zero Balance';

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
};

export function renderBuiltInTemplate(template: TemplateName, fields: MergeFields): { subject: string; text: string } {
  const t = builtIn[template];
  const vars = fields as unknown as Record<string, string>;
  return { subject: renderMergeFields(t.subject, vars), text: renderMergeFields(t.body, vars) };
}
