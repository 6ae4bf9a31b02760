import type { FeatureHost } from '../consumer/feature-host';
import type { HandlerRoute } from '../consumer/handler-route';
import type { QueueOptions, RabbitHandlerConfig } from '../options/rabbitmq-options.interface';
import { DeadLetterEnhancer } from './dead-letter.enhancer';
import { ErrorHandlerStrategy } from '../consumer/error-handler.strategy';
import { DeadLetterStrategy } from './dead-letter.strategy';

function host(defaultDeadLetter?: boolean): FeatureHost {
  return { name: 'default', options: { defaultDeadLetter, defaultRetry: undefined } } as unknown as FeatureHost;
}

function route(config: Partial<RabbitHandlerConfig> = {}): HandlerRoute {
  return {
    descriptor: { name: 'Orders.handle', kind: 'subscribe', config: { queue: 'orders', ...config } },
    failure: 'own',
    stats: {},
  } as unknown as HandlerRoute;
}

const QUORUM: QueueOptions = { type: 'quorum' };
const IMPLIED = {
  deadLetterExchange: 'warren.dlx',
  deadLetterRoutingKey: 'orders.dlq',
  overflow: 'reject-publish',
  arguments: { 'x-dead-letter-strategy': 'at-least-once' },
};

describe('DeadLetterEnhancer: the implied dead-letter routing of a quorum queue without a delivery limit', () => {
  it('points the queue at <queue>.dlq and leaves the handler’s own failure handling alone', () => {
    const own = route();
    const enhanced = new DeadLetterEnhancer(host()).enhance(own, 'orders', QUORUM);
    expect(enhanced.queueOptions).toEqual(IMPLIED);
    expect(enhanced.setup).toBeDefined();
    expect(enhanced.route).toBe(own);
    // The raw x-queue-type counts as well.
    expect(new DeadLetterEnhancer(host()).enhance(route(), 'orders', { arguments: { 'x-queue-type': 'quorum' } }).queueOptions).toMatchObject({
      deadLetterRoutingKey: 'orders.dlq',
    });
  });

  it.each<[string, FeatureHost, Partial<RabbitHandlerConfig>, QueueOptions | undefined, string | undefined]>([
    ['a classic queue', host(), {}, {}, 'orders'],
    ['deadLetter: false', host(), { deadLetter: false }, QUORUM, 'orders'],
    ["the module's defaultDeadLetter: false", host(false), {}, QUORUM, 'orders'],
    ['a typed deliveryLimit', host(), {}, { type: 'quorum', deliveryLimit: 5 }, 'orders'],
    ['a raw x-delivery-limit', host(), {}, { type: 'quorum', arguments: { 'x-delivery-limit': 5 } }, 'orders'],
    ['its own dead-letter exchange', host(), {}, { type: 'quorum', deadLetterExchange: 'mine' }, 'orders'],
    ['a passive declare', host(), {}, { type: 'quorum', passive: true }, 'orders'],
    ['a server-named queue', host(), {}, QUORUM, undefined],
  ])('adds nothing for %s', (_case, featureHost, config, queueOptions, queue) => {
    const own = route(config);
    expect(new DeadLetterEnhancer(featureHost).enhance(own, queue, queueOptions ?? {})).toEqual({ route: own });
  });

  it('gives deadLetter: true its strategy as before, on classic and quorum queues', () => {
    const enhanced = new DeadLetterEnhancer(host()).enhance(route({ deadLetter: true }), 'orders', QUORUM);
    expect(enhanced.route.failure).toBeInstanceOf(DeadLetterStrategy);
    expect(enhanced.queueOptions).toEqual(IMPLIED);
  });

  it('keeps an explicit errorHandler in front of the dead-letter queue: it decides first, and what it leaves unsettled is dead-lettered', () => {
    const enhanced = new DeadLetterEnhancer(host()).enhance(route({ deadLetter: true, errorHandler: () => undefined }), 'orders', {});
    expect(enhanced.route.failure).toBeInstanceOf(ErrorHandlerStrategy);
  });
});
