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

/** A command of the voipbill server module in WHMCS (its Suspend, Unsuspend, Terminate buttons, Create). */
export interface WhmcsModuleCommand {
  /** The module call's id: repeating it (a retried delivery) is harmless. */
  requestId: string;
  serviceId: string;
  clientId?: string;
  /** WHMCS's suspension reason, when the admin gave one. */
  reason?: string;
}

/** What WHMCS shows the admin: success (with a note), or voipbill's reason for refusing. */
export type WhmcsModuleOutcome = { ok: true; message?: string } | { ok: false; message: string };

/**
 * The module's commands, answered synchronously (the admin waits for them in WHMCS): carried out, or refused with the
 * reason, before the answer is sent.
 */
export interface WhmcsModuleCommands {
  suspend(c: WhmcsModuleCommand): Promise<WhmcsModuleOutcome>;
  unsuspend(c: WhmcsModuleCommand): Promise<WhmcsModuleOutcome>;
  terminate(c: WhmcsModuleCommand): Promise<WhmcsModuleOutcome>;
  create(c: WhmcsModuleCommand): Promise<WhmcsModuleOutcome>;
}
