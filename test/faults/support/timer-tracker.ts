import { createHook } from 'node:async_hooks';

/** A timer as Node hands it to async hooks (the fields read here are Node's own, stable since v11). */
interface TimerResource {
  _destroyed?: boolean;
  _idleTimeout?: number;
  _repeat?: number | null;
}

/** Frames that make a timer the code under test's: Warren's sources and the client libraries it drives. */
const OWN_FRAMES = /[\\/](libs[\\/]rabbitmq[\\/]src|node_modules[\\/](amqplib|amqp-connection-manager))[\\/]/;

/**
 * Tracks the timers the code under test creates, with where each was created. Counting every
 * Timeout of the process also counts Jest's and those an earlier test file left running (a
 * reconnect loop whose phase differs between two readings); this counts only timers created
 * from Warren's or amqplib's frames, and names them when they differ.
 */
export class TimerTracker {
  private readonly timers = new Map<number, { resource: TimerResource; stack: string; createdAt: number }>();
  private readonly hook = createHook({
    init: (asyncId, type, _trigger, resource) => {
      if (type !== 'Timeout') return;
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 40;
      const stack = new Error().stack ?? '';
      Error.stackTraceLimit = limit;
      if (OWN_FRAMES.test(stack)) this.timers.set(asyncId, { resource, stack, createdAt: Date.now() });
    },
    destroy: (asyncId) => {
      this.timers.delete(asyncId);
    },
  });

  start(): this {
    this.hook.enable();
    return this;
  }

  stop(): void {
    this.hook.disable();
    this.timers.clear();
  }

  /** The tracked timers still armed. */
  live(): Array<{ ms: number; repeats: boolean; ageMs: number; createdBy: string }> {
    const now = Date.now();
    return [...this.timers.values()]
      .filter(({ resource }) => !resource._destroyed && (resource._idleTimeout ?? -1) > 0)
      .map(({ resource, stack, createdAt }) => ({
        ms: resource._idleTimeout ?? -1,
        repeats: resource._repeat != null,
        ageMs: now - createdAt,
        createdBy: stack
          .split('\n')
          .filter((line) => OWN_FRAMES.test(line))
          .slice(0, 4)
          .map((line) => line.trim())
          .join(' < '),
      }));
  }
}
