import { runBounded } from './drive';

describe('runBounded', () => {
  it('runs every operation and counts them', async () => {
    const seen: number[] = [];
    const completed = await runBounded(5, 2, Date.now() + 10_000, async (i) => {
      seen.push(i);
      await Promise.resolve();
    });
    expect(completed).toBe(5);
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('rejects with the first failure once the operations in flight settle', async () => {
    const failure = new Error('nacked');
    await expect(runBounded(10, 1, Date.now() + 10_000, (i) => (i === 2 ? Promise.reject(failure) : Promise.resolve()))).rejects.toBe(failure);
  });

  it('stops on an operation that rejects with undefined instead of counting it as neither done nor failed', async () => {
    let started = 0;
    const run = runBounded(10, 1, Date.now() + 10_000, (i) => {
      started++;
      return i === 1 ? Promise.reject(undefined) : Promise.resolve();
    });
    await expect(run).rejects.toBeUndefined();
    expect(started).toBe(2);
  });
});
