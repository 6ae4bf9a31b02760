import type { ConsumeMessage } from 'amqplib';
import type { StreamOffsetStore } from '../options/stream-options.interface';
import { offsetArgument, StreamReader } from './stream-reader';

function at(offset: unknown): ConsumeMessage {
  return { properties: { headers: { 'x-stream-offset': offset } } } as unknown as ConsumeMessage;
}

/** A store whose saves complete only when the test says so. */
class SlowStore implements StreamOffsetStore {
  readonly saves: number[] = [];
  private pending: Array<() => void> = [];
  stored?: number;
  load(): Promise<number | undefined> {
    return Promise.resolve(this.stored);
  }
  save(_reader: string, offset: number): Promise<void> {
    this.saves.push(offset);
    return new Promise((resolve) =>
      this.pending.push(() => {
        this.stored = offset;
        resolve();
      }),
    );
  }
  completeOne(): void {
    this.pending.shift()?.();
  }
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('StreamReader', () => {
  it('encodes where to start as the broker reads x-stream-offset', () => {
    expect(offsetArgument('first')).toBe('first');
    expect(offsetArgument(42)).toEqual({ '!': 'long', value: 42 });
    expect(offsetArgument(new Date(1_700_000_000_500))).toEqual({ '!': 'timestamp', value: 1_700_000_000 });
  });

  it('starts at its offset without a position, then right after the last message handled', async () => {
    const reader = new StreamReader('audit', { offset: 'first' });
    expect(await reader.consumeArguments()).toEqual({ 'x-stream-offset': 'first' });
    reader.handled(at(7));
    reader.handled(at(8));
    expect(await reader.consumeArguments()).toEqual({ 'x-stream-offset': { '!': 'long', value: 9 } });
  });

  it('resumes from the stored position in a new process', async () => {
    const store = new SlowStore();
    store.stored = 99;
    const reader = new StreamReader('audit', { offset: 'first', store });
    expect(await reader.consumeArguments()).toEqual({ 'x-stream-offset': { '!': 'long', value: 100 } });
  });

  it('saves one at a time with the latest offset, never going back, and ignores deliveries without an offset', async () => {
    const store = new SlowStore();
    const reader = new StreamReader('audit', { store });
    reader.handled(at(1));
    reader.handled(at(2));
    reader.handled(at(3));
    reader.handled(at(2));
    reader.handled(at('x'));
    expect(store.saves).toEqual([1]);
    store.completeOne();
    await tick();
    expect(store.saves).toEqual([1, 3]);
    store.completeOne();
    await tick();
    await reader.close(100);
    expect(store.stored).toBe(3);
  });

  it('gives up waiting for a store that does not answer at close, within the time given', async () => {
    const store = new SlowStore();
    const reader = new StreamReader('audit', { store });
    reader.handled(at(5));
    const started = Date.now();
    await reader.close(50);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(store.stored).toBeUndefined();
  });
});
