import { randomUUID } from 'node:crypto';
import type { Options } from 'amqplib';
import { MessageEncodingError } from '../errors/message-encoding.error';
import { OutboxWriteError } from '../errors/outbox-write.error';
import { JsonSerializer, type Serializer } from '../message/serializer';
import type { TelemetryHub } from '../observability/telemetry-hub';
import { findEncodingProblem } from '../publisher/publish-encoding';
import type { AmqpConnection } from '../facade/amqp-connection';
import { OutboxSql } from './outbox-sql';
import { DEFAULT_OUTBOX_TABLE, validateTableName } from './outbox-options';
import { checkTransaction, rowsOf, type OutboxTransaction } from './outbox-transaction';
import { InvalidOptionsError } from '../errors/invalid-options.error';

/** Options of one message written to the outbox: amqplib's publish properties, plus the outbox's own. */
export interface OutboxPublishOptions extends Omit<Options.Publish, 'messageId' | 'timestamp' | 'headers'> {
  /** The message id, fixed now and carried by every send of this row (dedup drops re-sends). @default a random UUID */
  messageId?: string;
  /**
   * Rows with the same key are published in the order they were written, one relay at a time
   * (e.g. the order id: `order.created` before `order.paid`). Rows without a key go in any order.
   */
  aggregateKey?: string;
  /** Message headers, stored as JSON (values JSON cannot hold, such as Buffers, are refused). */
  headers?: Record<string, unknown>;
  /** Serializer for this message. @default the outbox's (JSON) */
  serializer?: Serializer;
}

/** The row written: its id in the outbox table and the message id it will be published with. */
export interface OutboxEntry {
  id: string;
  messageId: string;
}

export interface OutboxWriterOptions {
  /** @default 'warren_outbox' */
  table?: string;
  /** @default JsonSerializer */
  serializer?: Serializer;
  /** The connection the relay publishes on; its telemetry (trace context) is applied at write time. */
  connection?: AmqpConnection;
  /**
   * NOTIFY the relays at commit, so a row is relayed in milliseconds. Every NOTIFY takes a lock
   * PostgreSQL holds across commits: at hundreds of writing transactions a second, turning it off
   * (relays then find rows by polling, `pollInterval`) raises the write rate; see docs/outbox.md.
   * @default true
   */
  notify?: boolean;
}

/**
 * Writes messages into the outbox table inside the application's own transaction. Nothing goes
 * to the broker here: the relay publishes the row after the transaction commits, and never
 * if it rolls back. Inject it (`WarrenOutboxModule`) or construct it.
 */
export class Outbox {
  readonly table: string;
  private readonly sql: OutboxSql;
  private readonly serializer: Serializer;
  private readonly telemetry: TelemetryHub | undefined;
  private readonly insert: string;

  constructor(options: OutboxWriterOptions = {}) {
    this.table = options.table ?? DEFAULT_OUTBOX_TABLE;
    const problem = validateTableName(this.table);
    if (problem) throw new InvalidOptionsError([problem]);
    this.sql = new OutboxSql(this.table);
    this.serializer = options.serializer ?? new JsonSerializer();
    this.telemetry = options.connection?.telemetryHub;
    if (options.notify !== undefined && typeof options.notify !== 'boolean') {
      throw new InvalidOptionsError([`outbox.notify must be true or false, got ${JSON.stringify(options.notify)}`]);
    }
    this.insert = options.notify === false ? this.sql.insertQuiet : this.sql.insert;
  }

  /**
   * Writes `message` for `exchange`/`routingKey` into the outbox through `tx`, the application's
   * open transaction (a pg PoolClient after BEGIN, a TypeORM transactional EntityManager or
   * QueryRunner, or any OutboxTransaction). Rejects with MessageEncodingError (the payload or a
   * property cannot be encoded; nothing written), OutboxTransactionError (not a transaction) or
   * OutboxWriteError (the insert failed: roll back).
   */
  async publish<T = unknown>(
    tx: OutboxTransaction,
    exchange: string,
    routingKey: string,
    message: T,
    options: OutboxPublishOptions = {},
  ): Promise<OutboxEntry> {
    checkTransaction(tx, exchange, routingKey);
    const { messageId = randomUUID(), aggregateKey, headers: given, serializer = this.serializer, ...rest } = options;
    let content: Buffer;
    try {
      content = serializer.serialize(message);
    } catch (error) {
      throw MessageEncodingError.fromSerializer(exchange, routingKey, message, error);
    }
    const headers: Record<string, unknown> = { ...given };
    this.telemetry?.outboxWrite({ table: this.table, exchange, routingKey, messageId }, headers);
    const properties: Record<string, unknown> = { ...rest, headers };
    for (const key of Object.keys(properties)) if (properties[key] === undefined) delete properties[key];
    const contentType = (rest as { contentType?: string }).contentType ?? serializer.contentType;
    const problem = findEncodingProblem(exchange, routingKey, content, { ...properties, messageId, contentType });
    if (problem) throw new MessageEncodingError(exchange, routingKey, problem.field, problem.valueType, problem.problem);
    if (aggregateKey !== undefined && typeof aggregateKey !== 'string') {
      throw new MessageEncodingError(exchange, routingKey, 'aggregateKey', typeof aggregateKey, 'it must be a string');
    }
    const json = propertiesJson(exchange, routingKey, properties);
    let result: unknown;
    try {
      result = await tx.query(this.insert, [messageId, exchange, routingKey, content, contentType, json, aggregateKey ?? null, this.sql.channel]);
    } catch (error) {
      throw new OutboxWriteError(this.table, exchange, routingKey, sqlStateOf(error), error);
    }
    const row = rowsOf<{ id: string }>(result)[0];
    if (row?.id === undefined) {
      throw new OutboxWriteError(
        this.table,
        exchange,
        routingKey,
        undefined,
        new Error('the insert returned no row: the adapter must return the rows of the statement'),
      );
    }
    return { id: String(row.id), messageId };
  }
}

/** The properties as JSON, checked to come back the same (a Buffer, a Date or a Map would not). */
function propertiesJson(exchange: string, routingKey: string, properties: Record<string, unknown>): string {
  let json: string;
  try {
    json = JSON.stringify(properties);
  } catch (error) {
    throw new MessageEncodingError(
      exchange,
      routingKey,
      'headers',
      'a value JSON cannot hold',
      `the outbox stores properties as JSON (${(error as Error).message})`,
      error,
    );
  }
  const changed = firstDifference(properties, JSON.parse(json) as unknown, '');
  if (changed !== undefined) {
    throw new MessageEncodingError(
      exchange,
      routingKey,
      changed.field,
      changed.valueType,
      'the outbox stores properties as JSON and this value would not come back the same; use strings, numbers, booleans, arrays and plain objects',
    );
  }
  return json;
}

function firstDifference(original: unknown, copy: unknown, path: string): { field: string; valueType: string } | undefined {
  if (original === copy) return undefined;
  if (original !== null && typeof original === 'object' && copy !== null && typeof copy === 'object') {
    const plain = Array.isArray(original) || Object.getPrototypeOf(original) === Object.prototype;
    if (!plain) return { field: path || 'properties', valueType: `a ${original.constructor?.name ?? 'non-plain object'}` };
    for (const key of Object.keys(original)) {
      const found = firstDifference((original as Record<string, unknown>)[key], (copy as Record<string, unknown>)[key], path ? `${path}.${key}` : key);
      if (found) return found;
    }
    return undefined;
  }
  return { field: path || 'properties', valueType: typeof original === 'number' ? `number ${String(original)}` : typeof original };
}

function sqlStateOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}
