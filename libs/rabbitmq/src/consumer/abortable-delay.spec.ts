import { abortableDelay } from './abortable-delay';

describe('abortableDelay', () => {
  it('resolves after the delay when nothing aborts it', async () => {
    const started = Date.now();
    await abortableDelay(30, new AbortController().signal);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });

  it('resolves as soon as its signal aborts, long before the delay', async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 20);
    await abortableDelay(30_000, controller.signal);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('resolves at once on a signal that has already aborted', async () => {
    const started = Date.now();
    await abortableDelay(30_000, AbortSignal.abort());
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
