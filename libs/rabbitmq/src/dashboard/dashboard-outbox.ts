import type { Type } from '@nestjs/common';

/** A held outbox row as the dashboard shows it: the fields of `OutboxRow` it reads. */
export interface DashboardOutboxRow {
  id: string;
  messageId: string;
  exchange: string;
  routingKey: string;
  payload: Buffer;
  contentType: string | null;
  status: string;
  attempts: number;
  createdAt: Date;
  errorCode: string | null;
  errorMessage: string | null;
}

/**
 * What the dashboard needs of a transactional outbox: `OutboxRelay` of `@warren/rabbitmq/outbox`
 * has this shape. The dashboard does not import the outbox entry point (both are entry points of
 * the same layer): it reads held rows and replays them through this interface.
 */
export interface DashboardOutboxSource {
  readonly options: { readonly table: string };
  held(options?: { status?: Array<'parked' | 'failed'>; limit?: number }): Promise<DashboardOutboxRow[]>;
  replay(options?: { ids?: string[]; status?: Array<'parked' | 'failed'> }): Promise<number>;
}

/** The outbox option: the relay itself, or the token Nest resolves it by (`OutboxRelay`, as WarrenOutboxModule provides it). */
export type DashboardOutboxOption = DashboardOutboxSource | Type<DashboardOutboxSource> | string | symbol;

export function isOutboxSource(value: unknown): value is DashboardOutboxSource {
  const candidate = value as Partial<DashboardOutboxSource> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.held === 'function' &&
    typeof candidate.replay === 'function' &&
    typeof candidate.options?.table === 'string'
  );
}
