import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { Order, OrderState } from './contracts';
import type { SampleNames } from './sample-names';
import { REDIS, SAMPLE_NAMES } from './sample.tokens';

/** Creates the order only if its id is new, and indexes it. */
const CREATE_SCRIPT = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
  return 1
end
return 0`;

/**
 * Applies a patch if the order is in one of the allowed states; returns {1, new} or {0, current}.
 * JSON null in the patch removes the field. Runs in Redis, so two services (or two
 * payments workers) changing one order never overwrite each other.
 */
const TRANSITION_SCRIPT = `
local raw = redis.call('GET', KEYS[1])
if not raw then return {0, ''} end
local order = cjson.decode(raw)
local allowed = false
for _, state in ipairs(cjson.decode(ARGV[1])) do
  if order.state == state then allowed = true end
end
if not allowed then return {0, raw} end
for key, value in pairs(cjson.decode(ARGV[2])) do
  if value == cjson.null then order[key] = nil else order[key] = value end
end
local updated = cjson.encode(order)
redis.call('SET', KEYS[1], updated)
return {1, updated}`;

/** Deletes the order if it is still in the given state. */
const DELETE_IF_SCRIPT = `
local raw = redis.call('GET', KEYS[1])
if raw and cjson.decode(raw).state == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
  return 1
end
return 0`;

/** Lua's cjson does not keep key order; this puts the fields back in a readable one. */
const FIELD_ORDER: Array<keyof Order> = [
  'id',
  'clientOrderId',
  'customerId',
  'state',
  'reason',
  'items',
  'totalCents',
  'express',
  'cardToken',
  'paymentId',
  'published',
  'requestHash',
  'createdAt',
  'updatedAt',
];

function parseOrder(raw: string): Order {
  const parsed = JSON.parse(raw) as Record<string, unknown>;
  const order: Record<string, unknown> = {};
  for (const field of FIELD_ORDER) if (parsed[field] !== undefined && parsed[field] !== null) order[field] = parsed[field];
  return order as unknown as Order;
}

export type OrderPatch = { [K in keyof Order]?: Order[K] | null };

/** The outcome of a conditional state change. */
export type TransitionResult = { applied: true; order: Order } | { applied: false; order: Order | undefined };

/**
 * Orders live in Redis, not in process memory: every service (and every
 * instance of one) sees the same state, and a restart loses nothing.
 * One JSON document per order, plus a sorted set (by creation time) to list them.
 */
@Injectable()
export class OrderStore {
  private readonly prefix: string;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(SAMPLE_NAMES) names: SampleNames,
  ) {
    this.prefix = names.redisPrefix;
  }

  private key(id: string): string {
    return `${this.prefix}order:${id}`;
  }

  private get indexKey(): string {
    return `${this.prefix}orders`;
  }

  /** Stores a new order; false if one with this id exists already. */
  async createIfAbsent(order: Order): Promise<boolean> {
    const created = await this.redis.eval(CREATE_SCRIPT, 2, this.key(order.id), this.indexKey, JSON.stringify(order), Date.parse(order.createdAt), order.id);
    return created === 1;
  }

  async get(id: string): Promise<Order | undefined> {
    const raw = await this.redis.get(this.key(id));
    return raw === null ? undefined : parseOrder(raw);
  }

  /** Changes the order only if it is in one of `from`. */
  async transition(id: string, from: readonly OrderState[], patch: OrderPatch): Promise<TransitionResult> {
    const body = { ...patch, updatedAt: new Date().toISOString() };
    const [applied, raw] = (await this.redis.eval(TRANSITION_SCRIPT, 1, this.key(id), JSON.stringify(from), JSON.stringify(body))) as [number, string];
    const order = raw === '' ? undefined : parseOrder(raw);
    return applied === 1 ? { applied: true, order: order as Order } : { applied: false, order };
  }

  /** Removes an order that never got past `state` (e.g. inventory did not answer): the client may simply retry. */
  async deleteIfState(id: string, state: OrderState): Promise<boolean> {
    return (await this.redis.eval(DELETE_IF_SCRIPT, 2, this.key(id), this.indexKey, state, id)) === 1;
  }

  /** Orders, oldest first. */
  async list(options: { state?: OrderState; offset?: number; limit?: number } = {}): Promise<Order[]> {
    const offset = options.offset ?? 0;
    const limit = options.limit ?? 50;
    if (options.state === undefined) {
      const ids = await this.redis.zrange(this.indexKey, offset, offset + limit - 1);
      return this.getMany(ids);
    }
    // Filtering by state scans the index: fine for a sample, a real system would index states.
    const matching = (await this.all()).filter((order) => order.state === options.state);
    return matching.slice(offset, offset + limit);
  }

  /** Every order (the sample keeps a few hundred at most). */
  async all(): Promise<Order[]> {
    const ids = await this.redis.zrange(this.indexKey, 0, -1);
    const orders: Order[] = [];
    for (let i = 0; i < ids.length; i += 500) orders.push(...(await this.getMany(ids.slice(i, i + 500))));
    return orders;
  }

  async count(): Promise<number> {
    return this.redis.zcard(this.indexKey);
  }

  async countByState(): Promise<Record<OrderState, number>> {
    const counts: Record<OrderState, number> = { received: 0, rejected: 0, accepted: 0, paid: 0, payment_failed: 0 };
    for (const order of await this.all()) counts[order.state]++;
    return counts;
  }

  private async getMany(ids: string[]): Promise<Order[]> {
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(ids.map((id) => this.key(id)));
    return raws.filter((raw): raw is string => raw !== null).map(parseOrder);
  }
}
