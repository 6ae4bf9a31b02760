import type { ConsumeMessage } from 'amqplib';
import type { Settlement } from './failure-strategy';

/** A claim on a message key, held while the handler runs. */
export interface DedupTicket {
  key: string;
  token: string;
}

/** Outcome of asking whether a message may run. */
export type DedupDecision = { run: true; ticket: DedupTicket | undefined } | { run: false; settlement: Settlement };

/** Idempotent-consumer bookkeeping the dispatcher calls around a handler. */
export interface DedupGuard {
  begin(message: ConsumeMessage, payload: unknown): Promise<DedupDecision>;
  succeeded(ticket: DedupTicket): Promise<void>;
  failed(ticket: DedupTicket): Promise<void>;
}
