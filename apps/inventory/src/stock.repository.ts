import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { OrderItem, ReserveReply } from '../../common/src/contracts';
import type { SampleNames } from '../../common/src/sample-names';
import { REDIS, SAMPLE_NAMES } from '../../common/src/sample.tokens';
import { CATALOG, findProduct } from './catalog';
import { OutOfStockError, UnknownSkuError } from './inventory.errors';

/**
 * Reserves every line of an order or none, atomically, and remembers the
 * reservation by order id: asking again for the same order (a retried request,
 * a duplicate POST) returns the first answer and takes no more stock.
 */
const RESERVE_SCRIPT = `
local existing = redis.call('HGET', KEYS[2], ARGV[1])
if existing then return {'existing', existing} end
local wanted, skus = {}, {}
for _, item in ipairs(cjson.decode(ARGV[2])) do
  if wanted[item.sku] == nil then table.insert(skus, item.sku); wanted[item.sku] = 0 end
  wanted[item.sku] = wanted[item.sku] + item.quantity
end
for _, sku in ipairs(skus) do
  local available = tonumber(redis.call('HGET', KEYS[1], sku) or '0')
  if available < wanted[sku] then return {'short', sku, tostring(wanted[sku]), tostring(available)} end
end
for _, sku in ipairs(skus) do redis.call('HINCRBY', KEYS[1], sku, -wanted[sku]) end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return {'reserved', ARGV[3]}`;

/** Stock levels and reservations, in Redis. */
@Injectable()
export class StockRepository implements OnModuleInit {
  private readonly logger = new Logger(StockRepository.name);
  private readonly stockKey: string;
  private readonly reservationsKey: string;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(SAMPLE_NAMES) names: SampleNames,
  ) {
    this.stockKey = `${names.redisPrefix}inventory:stock`;
    this.reservationsKey = `${names.redisPrefix}inventory:reservations`;
  }

  /** Seeds the catalogue's stock once (HSETNX: a restart or a second instance changes nothing). */
  async onModuleInit(): Promise<void> {
    const multi = this.redis.multi();
    for (const product of CATALOG) multi.hsetnx(this.stockKey, product.sku, product.initialStock);
    await multi.exec();
    this.logger.log(`stock ready: ${CATALOG.map((p) => p.sku).join(', ')}`);
  }

  async reserve(orderId: string, items: OrderItem[]): Promise<{ reply: ReserveReply; repeated: boolean }> {
    const lines = items.map((item) => {
      const product = findProduct(item.sku);
      if (!product) throw new UnknownSkuError({ sku: item.sku });
      return { ...item, unitPriceCents: product.unitPriceCents };
    });
    const reply: ReserveReply = {
      orderId,
      reservationId: randomUUID(),
      lines,
      totalCents: lines.reduce((sum, line) => sum + line.quantity * line.unitPriceCents, 0),
    };
    const [outcome, ...rest] = (await this.redis.eval(
      RESERVE_SCRIPT,
      2,
      this.stockKey,
      this.reservationsKey,
      orderId,
      JSON.stringify(items),
      JSON.stringify(reply),
    )) as string[];
    if (outcome === 'short') {
      throw new OutOfStockError({ sku: rest[0], requested: Number(rest[1]), available: Number(rest[2]) });
    }
    return { reply: JSON.parse(rest[0]) as ReserveReply, repeated: outcome === 'existing' };
  }

  async levels(): Promise<Record<string, number>> {
    const raw = await this.redis.hgetall(this.stockKey);
    return Object.fromEntries(Object.entries(raw).map(([sku, units]) => [sku, Number(units)]));
  }
}
