import type { Channel } from 'amqplib';
import type { RouteEnhancement, RouteEnhancer } from '../consumer/consumer-registry';
import type { FeatureHost } from '../consumer/feature-host';
import type { HandlerDescriptor } from '../consumer/handler-descriptor';
import type { HandlerRoute } from '../consumer/handler-route';
import type { QueueOptions } from '../options/rabbitmq-options.interface';
import { DelayedRetryStrategy } from './delayed-retry.strategy';
import type { RetryOptions } from '../options/retry-options.interface';
import { RetryPolicy } from '../retry/retry-policy';
import { resolveRetryOptions } from '../retry/resolve-retry-options';
import { validateRetryOptions } from '../retry/validate-retry-options';
import { declareWaitTopology } from './wait-queues';

/** `retry: { maxAttempts, backoff, retryOn, retryable, immediateRetries }` on a handler, or the module's `defaultRetry`. */
export class RetryEnhancer implements RouteEnhancer {
  constructor(private readonly host: FeatureHost) {}

  private optionsOf(handler: HandlerDescriptor): RetryOptions | undefined {
    const option = handler.config.retry;
    if (option === false) return undefined;
    return option ?? this.host.options.defaultRetry;
  }

  validate(handler: HandlerDescriptor): string[] {
    const options = this.optionsOf(handler);
    if (!options) return [];
    const problems = validateRetryOptions(resolveRetryOptions(options, this.host.options.defaultRetry), `${handler.name}`);
    if (!handler.config.queue) problems.push(`${handler.name}: retry needs a named queue (set 'queue')`);
    else if (/(^|\.)[*#](\.|$)/.test(handler.config.queue)) {
      problems.push(`${handler.name}: retry cannot route back to a queue whose name has a '*' or '#' word ('${handler.config.queue}')`);
    }
    return problems;
  }

  enhance(route: HandlerRoute, queue: string | undefined, queueOptions: QueueOptions): RouteEnhancement {
    const options = this.optionsOf(route.descriptor);
    if (!options || !queue) return { route };
    const policy = new RetryPolicy(options, this.host.options.defaultRetry);
    const partitions = route.descriptor.config.partitions;
    if (partitions !== undefined && (partitions.onFailure ?? 'block') === 'block') {
      // Retried in place: the delivery stays unacked and its partition waits, so later messages of its key cannot overtake it.
      return {
        route: {
          ...route,
          retryImmediately: (error, failures) => (policy.shouldRetry(error, failures) ? policy.delayFor(failures) : false),
        },
      };
    }
    const kind = queueOptions.type === 'quorum' ? 'quorum' : 'classic';
    const levels = policy.delayLevels();
    const setup = async (channel: Channel, queueName: string): Promise<void> => {
      await declareWaitTopology(channel, this.host.topologyDeclarer, kind, levels, queueName);
    };
    return {
      route: {
        ...route,
        failure: new DelayedRetryStrategy(this.host, policy, kind, route.failure),
        retryImmediately: policy.immediateRetries > 0 ? (error, failures) => (policy.shouldRetryImmediately(error, failures) ? 0 : false) : undefined,
      },
      setup,
    };
  }
}
