import type { FeatureHost } from '../consumer/feature-host';
import type { HandlerRoute } from '../consumer/handler-route';
import type { DedupStore } from '../options/dedup-store.interface';
import { DedupEnhancer } from './dedup.enhancer';

function host(): FeatureHost {
  return { name: 'default', options: { defaultDedup: undefined } } as unknown as FeatureHost;
}

function route(name: string, store: DedupStore): HandlerRoute {
  return { descriptor: { name, config: { dedup: { store } } }, stats: {} } as unknown as HandlerRoute;
}

function store(close: () => Promise<void>): DedupStore & { close: jest.Mock } {
  return {
    claim: () => Promise.resolve({ status: 'claimed', token: 't' }),
    complete: () => Promise.resolve(),
    release: () => Promise.resolve(),
    close: jest.fn(close),
  };
}

describe('DedupEnhancer.close', () => {
  it('closes every store even when one rejects or throws before returning a promise', async () => {
    const rejecting = store(() => Promise.reject(new Error('already closed')));
    const throwing = store(() => {
      throw new Error('not connected');
    });
    const healthy = store(() => Promise.resolve());
    const enhancer = new DedupEnhancer(host());
    enhancer.enhance(route('A.rejecting', rejecting));
    enhancer.enhance(route('B.throwing', throwing));
    enhancer.enhance(route('C.healthy', healthy));

    await expect(enhancer.close()).resolves.toBeUndefined();
    expect(rejecting.close).toHaveBeenCalledTimes(1);
    expect(throwing.close).toHaveBeenCalledTimes(1);
    expect(healthy.close).toHaveBeenCalledTimes(1);
  });
});
