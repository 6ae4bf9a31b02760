import { Logger } from '@nestjs/common';
import type { Channel, ConsumeMessage } from 'amqplib';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { ManagedChannel } from '../connection/managed-channel';
import { PARTITION_MEMBERS_EXCHANGE } from '../message/partition';
import type { TopologyDeclarer } from '../topology/topology-declarer';
import type { QueueConsumer } from './queue-consumer';

/** What one instance tells the others: who it is, and how often it has subscribed to a partition it owns. */
interface Announcement {
  id: string;
  /** Goes up whenever this instance (re)subscribes to a partition it owns: it then stands at the back of that queue's line. */
  incarnation: number;
  leaving?: boolean;
}

interface Member {
  incarnation: number;
  lastSeen: number;
}

/** Missed heartbeats after which an instance counts as gone. */
const MISSED_HEARTBEATS = 3;
/** Settling time between a change of the group and the hand-over it causes, so that a burst of changes causes one. */
const REBALANCE_DEBOUNCE_MS = 200;

/**
 * Shares the partitions of one handler among the instances that run it.
 *
 * Every instance subscribes to every partition queue; each queue has a single active consumer, the
 * one at the head of its line, and the broker moves the queue to the next one in line the moment the
 * active one's channel closes (a crash included). Who stands first is decided here: each instance
 * announces itself on `warren.partitions` every `heartbeatMs`; all of them sort the ids they know the
 * same way and give partition `i` to instance `i % members`. Whenever the group changes (an instance
 * joins, leaves, goes silent, or re-subscribes a partition it owns), each instance lets go of the
 * partitions it does not own (QueueConsumer.release: the running handler settles, the channel closes,
 * and it subscribes again at the back of the line). The owner, which does not let go, ends up first.
 * An instance that still finds itself active on a partition it does not own lets go of it after the
 * message it is handling (see `handled`), so a hand-over that went wrong does not last.
 *
 * Letting go closes the channel, never cancels: the deliveries held return to the head of the queue
 * before the next consumer gets any, so a partition changes hands without reordering.
 */
export class PartitionGroup {
  readonly id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly logger: Logger;
  private readonly members = new Map<string, Member>();
  private incarnation = 0;
  private view = '';
  private timer?: NodeJS.Timeout;
  private debounce?: NodeJS.Timeout;
  private stopped = false;
  /** When this instance last let go of each partition it found itself active on without owning it. */
  private readonly lastStrayRelease = new Map<number, number>();

  constructor(
    /** The handler's queue name: the group's name. */
    readonly name: string,
    private readonly partitions: QueueConsumer[],
    private readonly channel: ManagedChannel,
    private readonly topology: TopologyDeclarer,
    private readonly heartbeatMs: number,
  ) {
    this.logger = new Logger(`Partitions:${name}`);
  }

  /** The partitions this instance owns under its current view of the group. */
  owned(): number[] {
    const ids = [...this.members.keys(), this.id].sort();
    const rank = ids.indexOf(this.id);
    return this.partitions.map((_, index) => index).filter((index) => index % ids.length === rank);
  }

  /** How many instances this one knows of, itself included. */
  get size(): number {
    return this.members.size + 1;
  }

  /** The membership channel's setup: replayed on every new channel. */
  readonly setup = async (channel: Channel): Promise<void> => {
    await this.topology.declareExchange(channel, { name: PARTITION_MEMBERS_EXCHANGE, type: 'direct', options: { durable: true } });
    const queue = await this.topology.declareQueue(channel, undefined, { exclusive: true, autoDelete: true, durable: false });
    await this.topology.bindQueue(channel, queue, { exchange: PARTITION_MEMBERS_EXCHANGE, routingKey: this.name });
    // Announcements are state, not work: no acks, and a lost one is repeated within a heartbeat.
    await channel.consume(queue, (message) => this.onAnnouncement(message), { noAck: true });
    this.announce(channel);
  };

  start(): void {
    this.timer = setInterval(() => this.tick(), this.heartbeatMs);
    this.timer.unref();
  }

  /** A partition consumer of this instance subscribed: if it is one this instance owns, it now stands last, and the others must step back. */
  consuming(index: number): void {
    if (this.stopped || !this.owned().includes(index)) return;
    this.incarnation++;
    this.announce();
  }

  /**
   * A delivery of partition `index` was handled here. If another live instance owns it, this one is
   * active on it only because the hand-over at the last change of the group left it first in line (the
   * owner re-subscribed behind it, say): it lets go, at most once a heartbeat, so the queue moves on
   * down the line until the owner has it. Without this, a partition could stay with a non-owner until
   * the group next changes.
   */
  handled(index: number): void {
    if (this.stopped || this.members.size === 0 || this.owned().includes(index)) return;
    const now = Date.now();
    if (now - (this.lastStrayRelease.get(index) ?? 0) < this.heartbeatMs) return;
    this.lastStrayRelease.set(index, now);
    this.logger.debug(`active on partition ${index}, which another instance owns: letting go`);
    void this.partitions[index].release();
  }

  /** Tells the others this instance is going, so they take its partitions over without waiting for its heartbeats to stop. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
    this.announce(undefined, true);
  }

  private tick(): void {
    const now = Date.now();
    for (const [id, member] of this.members) {
      if (now - member.lastSeen > this.heartbeatMs * MISSED_HEARTBEATS) {
        this.members.delete(id);
        this.logger.log(`instance ${id} went silent; sharing out its partitions again`);
      }
    }
    this.announce();
    this.changed();
  }

  private announce(channel = this.channel.channel, leaving = false): void {
    if (channel === undefined) return;
    const body: Announcement = { id: this.id, incarnation: this.incarnation, ...(leaving ? { leaving } : {}) };
    try {
      channel.publish(PARTITION_MEMBERS_EXCHANGE, this.name, Buffer.from(JSON.stringify(body)), {
        expiration: String(this.heartbeatMs * MISSED_HEARTBEATS),
        contentType: 'application/json',
      });
    } catch (error) {
      this.logger.debug(`could not announce: ${(error as Error).message}`);
    }
  }

  private onAnnouncement(message: ConsumeMessage | null): void {
    if (message === null || this.stopped) return;
    let body: Partial<Announcement>;
    try {
      body = JSON.parse(message.content.toString('utf8')) as Partial<Announcement>;
    } catch {
      this.logger.warn(`ignored an announcement on '${this.name}' that is not JSON`);
      return;
    }
    if (typeof body.id !== 'string' || typeof body.incarnation !== 'number' || body.id === this.id) return;
    if (body.leaving === true) {
      if (this.members.delete(body.id)) this.logger.log(`instance ${body.id} left; sharing out its partitions again`);
    } else {
      if (!this.members.has(body.id)) this.logger.log(`instance ${body.id} joined`);
      this.members.set(body.id, { incarnation: body.incarnation, lastSeen: Date.now() });
    }
    this.changed();
  }

  /** Schedules a hand-over when the group differs from the last one acted on. */
  private changed(): void {
    const view = [...this.members.entries()]
      .map(([id, member]) => `${id}#${member.incarnation}`)
      .sort()
      .join(',');
    if (view === this.view || this.stopped) return;
    this.view = view;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.rebalance();
    }, REBALANCE_DEBOUNCE_MS);
    this.debounce.unref();
  }

  private async rebalance(): Promise<void> {
    if (this.stopped) return;
    const owned = new Set(this.owned());
    this.logger.debug(`${this.size} instance(s); owning partitions ${[...owned].join(', ') || 'none'}`);
    await Promise.all(this.partitions.filter((_, index) => !owned.has(index)).map((consumer) => consumer.release()));
  }
}
