import { DeadlineSweeper } from './deadline-sweeper';

describe('DeadlineSweeper', () => {
  it('expires entries whose deadline passed, in order, and skips settled ones', () => {
    const expired: string[] = [];
    const sweeper = new DeadlineSweeper<{ id: string; done: boolean; deadline: number }>((item, timeout) => expired.push(`${item.id}@${timeout}`));
    const a = { id: 'a', done: false, deadline: 0 };
    const b = { id: 'b', done: true, deadline: 0 };
    const c = { id: 'c', done: false, deadline: 0 };
    const d = { id: 'd', done: false, deadline: 0 };
    sweeper.add(a, 100, 0);
    sweeper.add(b, 100, 10);
    sweeper.add(c, 100, 20);
    sweeper.add(d, 1000, 0);
    sweeper.sweep(115);
    expect(expired).toEqual(['a@100']);
    sweeper.sweep(500);
    expect(expired).toEqual(['a@100', 'c@100']);
    sweeper.sweep(1000);
    expect(expired).toEqual(['a@100', 'c@100', 'd@1000']);
    expect(sweeper.size).toBe(0);
    sweeper.stop();
  });

  it('survives an expiry that settles and releases its entry (the publisher does), with settled entries behind it', () => {
    type Item = { id: string; done: boolean; deadline: number };
    const expired: string[] = [];
    const sweeper: DeadlineSweeper<Item> = new DeadlineSweeper<Item>((item, timeout) => {
      item.done = true;
      sweeper.release(timeout);
      expired.push(item.id);
    });
    const items: Item[] = ['a', 'b', 'c', 'd'].map((id) => ({ id, done: false, deadline: 0 }));
    items.forEach((item, i) => sweeper.add(item, 100, i));
    items[1].done = true;
    expect(() => sweeper.sweep(102)).not.toThrow();
    expect(expired).toEqual(['a', 'c']);
    expect(() => sweeper.sweep(200)).not.toThrow();
    expect(expired).toEqual(['a', 'c', 'd']);
    expect(sweeper.size).toBe(0);
    sweeper.stop();
  });

  it('keeps its memory bounded while a long-lived head is pending', () => {
    const sweeper = new DeadlineSweeper<{ done: boolean; deadline: number }>(() => undefined);
    const stuck = { done: false, deadline: 0 };
    sweeper.add(stuck, 10_000, 0);
    for (let i = 0; i < 5000; i++) sweeper.add({ done: true, deadline: 0 }, 10_000, 1);
    sweeper.sweep(2);
    expect(sweeper.size).toBe(5001);
    stuck.done = true;
    sweeper.sweep(3);
    expect(sweeper.size).toBe(0);
    sweeper.stop();
  });

  it('drops entries settled in order at once on release()', () => {
    const sweeper = new DeadlineSweeper<{ done: boolean; deadline: number }>(() => undefined);
    const items = Array.from({ length: 10 }, () => ({ done: false, deadline: 0 }));
    for (const item of items) sweeper.add(item, 1000, 0);
    items[1].done = true;
    sweeper.release(1000);
    expect(sweeper.size).toBe(10);
    items[0].done = true;
    sweeper.release(1000);
    expect(sweeper.size).toBe(8);
    for (const item of items) item.done = true;
    sweeper.release(1000);
    expect(sweeper.size).toBe(0);
    sweeper.stop();
  });
});

describe('DeadlineSweeper buckets', () => {
  it('forgets a timeout value once nothing waits under it, and stops its timer', () => {
    const sweeper = new DeadlineSweeper<{ done: boolean; deadline: number }>((item, timeout) => {
      item.done = true;
      sweeper.release(timeout);
    });
    for (let timeout = 1; timeout <= 1000; timeout++) {
      const item = { done: false, deadline: 0 };
      sweeper.add(item, timeout, 0);
      if (timeout % 2 === 0) {
        item.done = true;
        sweeper.release(timeout);
      }
    }
    expect(sweeper.bucketCount).toBe(500);
    sweeper.sweep(2000);
    expect(sweeper.bucketCount).toBe(0);
    expect(sweeper.size).toBe(0);
  });

  it('keeps an entry added under the same timeout while that timeout is being swept', () => {
    const expired: string[] = [];
    const sweeper: DeadlineSweeper<{ id: string; done: boolean; deadline: number }> = new DeadlineSweeper((item, timeout) => {
      expired.push(item.id);
      item.done = true;
      sweeper.release(timeout);
      if (item.id === 'a') sweeper.add({ id: 'again', done: false, deadline: 0 }, timeout, 5_000);
    });
    sweeper.add({ id: 'a', done: false, deadline: 0 }, 100, 0);
    sweeper.sweep(1_000);
    expect(sweeper.bucketCount).toBe(1);
    sweeper.sweep(6_000);
    expect(expired).toEqual(['a', 'again']);
    sweeper.stop();
  });
});
