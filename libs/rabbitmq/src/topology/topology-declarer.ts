import { Logger } from '@nestjs/common';
import type { Channel } from 'amqplib';
import { TopologyError } from '../errors/topology.error';
import type { BindingConfig, ExchangeBindingConfig, ExchangeConfig, QueueOptions } from '../options/rabbitmq-options.interface';
import { brokerVersionOf, unsupportedQueueFeatures } from './broker-version';
import { toAssertQueueOptions } from './queue-arguments';

/**
 * Declares exchanges, queues and bindings, turning broker refusals into TopologyErrors that say what to do.
 * Warns once per queue about options the broker's version does not act on (a per-queue consumer timeout
 * before 3.12, quorum-queue priorities before 4.0).
 */
export class TopologyDeclarer {
  private readonly logger = new Logger('Topology');
  private readonly warned = new Set<string>();

  async declareExchange(channel: Channel, exchange: ExchangeConfig): Promise<void> {
    try {
      if (exchange.passive) await channel.checkExchange(exchange.name);
      else await channel.assertExchange(exchange.name, exchange.type ?? 'topic', { durable: true, ...exchange.options });
    } catch (error) {
      throw describe('exchange', exchange.name, error);
    }
  }

  /** Declares a queue (server-named when `name` is empty) and returns its name. */
  async declareQueue(channel: Channel, name: string | undefined, options: QueueOptions = {}): Promise<string> {
    try {
      if (options.passive && name) {
        await channel.checkQueue(name);
        return name;
      }
      const reply = await channel.assertQueue(name ?? '', toAssertQueueOptions(options, Boolean(name)));
      this.warnUnsupported(channel, reply.queue, options);
      return reply.queue;
    } catch (error) {
      throw describe('queue', name || '(server-named)', error);
    }
  }

  private warnUnsupported(channel: Channel, queue: string, options: QueueOptions): void {
    for (const note of unsupportedQueueFeatures(queue, options, brokerVersionOf(channel))) {
      if (this.warned.has(note)) continue;
      this.warned.add(note);
      this.logger.warn(note);
    }
  }

  async bindQueue(channel: Channel, queue: string, binding: BindingConfig): Promise<void> {
    const keys = Array.isArray(binding.routingKey) ? binding.routingKey : [binding.routingKey ?? ''];
    for (const key of keys) {
      try {
        await channel.bindQueue(queue, binding.exchange, key, binding.arguments);
      } catch (error) {
        throw describe('binding', `queue '${queue}' to exchange '${binding.exchange}' with key '${key}'`, error);
      }
    }
  }

  async bindExchange(channel: Channel, binding: ExchangeBindingConfig): Promise<void> {
    try {
      await channel.bindExchange(binding.destination, binding.source, binding.routingKey ?? '', binding.arguments);
    } catch (error) {
      throw describe('binding', `exchange '${binding.destination}' to exchange '${binding.source}'`, error);
    }
  }
}

const INEQUIVALENT = /inequivalent arg '([^']+)' for (?:queue|exchange) '[^']*' in vhost '[^']*': received (.+) but current is (.+)$/;

/** Builds a TopologyError from an amqplib channel error. */
export function describe(kind: 'queue' | 'exchange' | 'binding', resource: string, error: unknown): TopologyError {
  const replyCode = typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : undefined;
  const text = error instanceof Error ? error.message : String(error);
  const brokerText = /with message "([^"]*)"/.exec(text)?.[1] ?? text;
  let advice: string;
  if (replyCode === 406) {
    const diff = INEQUIVALENT.exec(brokerText);
    advice = diff
      ? `it already exists with ${diff[1]} = ${diff[3]}, but was declared with ${diff[1]} = ${diff[2]}. ` +
        `Declare it with the same arguments, or delete the ${kind} (losing its messages) so it can be re-created.`
      : `it already exists with other settings (${brokerText}). Declare it with the same settings or delete it first.`;
  } else if (replyCode === 403) {
    advice = `access refused (${brokerText}). Give the user configure permission on it (rabbitmqctl set_permissions).`;
  } else if (replyCode === 404) {
    advice = `something it refers to does not exist (${brokerText}). Declare the exchange or queue first.`;
  } else {
    advice = brokerText;
  }
  return new TopologyError(kind, resource, replyCode, `Cannot declare ${kind} ${kind === 'binding' ? resource : `'${resource}'`}: ${advice}`, error);
}
