/**
 * What makes a WHMCS webhook event the same event. The hook's event ID alone is not enough: it is built from WHMCS's
 * invoice and transaction numbers, which a WHMCS restored from a backup, a second WHMCS, or the demo's fake WHMCS
 * after a reset hand out again. So an event is known by the installation that sent it (the hook's `installation`,
 * WHMCS's System URL), its ID, its name and its whole `data` (for a top-up: invoice, client, amount and the time it
 * was paid). A true re-delivery carries the same body, so it has the same identity; a new top-up that merely reuses
 * an invoice number has a different amount or payment time.
 *
 * Erring matters one way only: an event taken for new is dispatched again, which is harmless (it only makes the
 * service re-read WHMCS); an event taken for a duplicate is dropped, and a top-up would wait for the next sweep.
 */
import { createHash } from 'node:crypto';

export interface IdentifiableEvent {
  id: string;
  event: string;
  installation?: string | undefined;
  data: Record<string, unknown>;
}

export interface WebhookEventIdentity {
  /** The dedupe key (`v2:<sha-256>`), never equal to a bare event ID stored before identities existed. */
  key: string;
  /** The sending installation as the hook named it, normalised; null when the hook did not say (older hooks). */
  installation: string | null;
}

/** JSON with object keys sorted at every level, so the same content always hashes alike. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** A System URL as WHMCS may spell it: scheme and host are case-insensitive, a trailing slash is optional. */
export function normalizeInstallation(text: string | undefined): string | null {
  const trimmed = text?.trim();
  if (!trimmed) return null;
  try {
    const u = new URL(trimmed);
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`.toLowerCase();
  } catch {
    return trimmed.toLowerCase();
  }
}

export function webhookEventIdentity(e: IdentifiableEvent): WebhookEventIdentity {
  const installation = normalizeInstallation(e.installation);
  const digest = createHash('sha256')
    .update(canonicalJson(['voipbill-webhook-event.v2', installation ?? '', e.id, e.event, e.data]))
    .digest('hex');
  return { key: `v2:${digest}`, installation };
}

/**
 * Whether an event stored before identities existed (its key the bare ID, its payload the whole envelope as
 * received) is the delivery now arriving again: same event and same data. An upgraded hook sends more data than the
 * old one did, so its events never match an old row: at worst dispatched once more, never dropped.
 */
export function isLegacyRedelivery(storedPayload: unknown, e: IdentifiableEvent): boolean {
  if (storedPayload === null || typeof storedPayload !== 'object') return false;
  const stored = storedPayload as { event?: unknown; data?: unknown };
  return stored.event === e.event && canonicalJson(stored.data ?? {}) === canonicalJson(e.data);
}
