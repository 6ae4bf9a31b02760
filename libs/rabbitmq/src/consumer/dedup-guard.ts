import type { ConsumeMessage } from 'amqplib';
import type { Settlement } from './failure-strategy';

/** A claim on a message key, held while the handler runs. */
export interface DedupTicket {
  key: string;
  token: string;
}

/** Outcome of asking whether a message may run. */
export type DedupDecision = { run: true; ticket: DedupTicket | undefined } | { run: false; settlement: Settlement };

/**
 * Whether the delivery being held is still wanted: false once its consumer is stopping
 * or cancelled, or its channel has closed. A guard that waits checks it and gives the
 * delivery back promptly rather than holding up shutdown.
 */
export type StillWanted = () => boolean;

/** Idempotent-consumer bookkeeping the dispatcher calls around a handler. */
export interface DedupGuard {
  /**
   * May hold the delivery (unacked) while the store is unreachable or another claim holds the key.
   * Throws (e.g. DedupKeyError) when the message cannot be checked at all; the dispatcher then fails it.
   */
  begin(message: ConsumeMessage, payload: unknown, stillWanted: StillWanted): Promise<DedupDecision>;
  /**
   * The message's key (undefined: not guarded); throws like `begin` when it cannot be computed. A batch
   * uses it to run the second copy of a key only after the first has finished, instead of holding it
   * behind a claim that its own batch holds.
   */
  keyOf?(message: ConsumeMessage, payload: unknown): string | undefined;
  succeeded(ticket: DedupTicket): Promise<void>;
  failed(ticket: DedupTicket): Promise<void>;
}
