/**
 * Events forwarded from WHMCS (integrations/whmcs/voipbill_hooks.php) through the signed webhook. The webhook
 * verifies and deduplicates; the dispatcher turns each event into work, e.g. signal-with-start on the service
 * lifecycle workflows. Amounts in events are hints only: the receiver re-reads WHMCS before acting on money.
 */

export interface CreditChangedEvent {
  eventId: string;
  clientId: string;
  /** 'topup': an Add Funds invoice was paid; 'transaction': a payment or refund was recorded (AddTransaction). */
  reason: 'topup' | 'transaction';
  /** 2-decimal amount as WHMCS reported it; never trusted for balances. */
  amountHint?: string;
  invoiceId?: string;
}

export interface ServiceChangedEvent {
  eventId: string;
  serviceId: string;
  clientId?: string;
  action: 'create' | 'suspend' | 'unsuspend' | 'terminate';
}

export interface ClientFieldsChangedEvent {
  eventId: string;
  clientId: string;
}

export interface WhmcsEventDispatcher {
  creditChanged(e: CreditChangedEvent): Promise<void>;
  serviceChanged(e: ServiceChangedEvent): Promise<void>;
  clientFieldsChanged(e: ClientFieldsChangedEvent): Promise<void>;
}
