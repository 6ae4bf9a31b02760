/**
 * Partitioned queues: where a partition key goes, and what Warren names the queues and
 * exchanges of a partitioned handler. The publisher and the consumer share these rules,
 * so they live at the bottom layer.
 */

/**
 * A publisher hashes a partition key to one of this many slots; a handler with N partitions
 * binds slot `s` to partition `s % N`. A fixed slot count lets publishers route without knowing
 * N, and caps N at this number. N that divides 64 (2, 4, 8, 16, 32, 64) spreads keys evenly;
 * any other N gives some partitions one slot more than others (3: 22/21/21 slots).
 */
export const PARTITION_SLOTS = 64;

/** The header carrying a message's slot (a decimal string: headers-exchange matching compares types too). */
export const PARTITION_HEADER = 'warren-partition';

/** The direct exchange partition group members announce themselves on (routing key: the handler's queue). */
export const PARTITION_MEMBERS_EXCHANGE = 'warren.partitions';

/** 32-bit FNV-1a over the key's UTF-8 bytes: stable across processes, versions and languages. */
export function partitionHash(key: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(key, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** The slot (0..PARTITION_SLOTS-1) a partition key is routed by. */
export function partitionSlotOf(key: string): number {
  return partitionHash(key) % PARTITION_SLOTS;
}

/** The partition (0..count-1) a key lands in for a handler with `count` partitions. */
export function partitionOf(key: string, count: number): number {
  return partitionSlotOf(key) % count;
}

/** The queue of partition `index` of the handler queue `queue`. */
export function partitionQueueName(queue: string, index: number): string {
  return `${queue}.p${index}`;
}

/** The headers exchange that spreads a partitioned handler's messages over its partition queues. */
export function partitionExchangeName(queue: string): string {
  return `${queue}.partitions`;
}

/** The slots bound to partition `index` of `count`. */
export function slotsOfPartition(index: number, count: number): number[] {
  const slots: number[] = [];
  for (let slot = index; slot < PARTITION_SLOTS; slot += count) slots.push(slot);
  return slots;
}
