import { Logger } from '@nestjs/common';
import type { Channel, ChannelModel, ConfirmChannel } from 'amqplib';

/** Runs on every new channel before it is used: declare topology, start consumers. Replayed on every reconnect. */
export type ChannelSetup = (channel: Channel) => Promise<void>;

export interface ManagedChannelOptions {
  /** Publisher confirms on this channel. */
  confirm: boolean;
  /** basic.qos prefetch count, set before any setup runs. */
  prefetch?: number;
  /** Called with every channel once its setups have run. */
  onReady?: (channel: Channel) => void;
  /** Called when the current channel is gone (closed by the broker, or the connection dropped). */
  onLost?: (channel: Channel, error: Error | undefined) => void;
}

/** Waits before reopening a channel the broker closed after it was set up; the last one repeats. */
const REOPEN_DELAYS_MS = [100, 500, 1000, 2000, 5000];
/** Waits before retrying a channel whose setup failed; the last one repeats. */
const SETUP_RETRY_DELAYS_MS = [1000, 2000, 5000, 10_000, 30_000];

/**
 * One AMQP channel kept alive across reconnects. Setups are replayed on every new
 * channel; a channel the broker closes while the connection stays up (an error on
 * this channel only) is reopened with a short backoff. A setup that fails (an
 * exclusive queue another connection holds, a queue declared with other arguments)
 * is retried with a longer, capped backoff while the connection stays up, so it
 * recovers once the cause goes away without spinning on one that does not; each
 * distinct error is reported through `onSetupError` once, not on every retry.
 */
export class ManagedChannel {
  private current?: Channel;
  private connection?: ChannelModel;
  private closed = false;
  private reopenAttempt = 0;
  /** Setups that failed in a row on this connection. */
  private setupFailures = 0;
  /** The message of the last setup error reported, until a setup succeeds. */
  private reportedSetupError?: string;
  private reopenTimer?: NodeJS.Timeout;
  private openGeneration = 0;
  private readonly setups: ChannelSetup[] = [];
  private readyWaiters: Array<(open: boolean) => void> = [];
  /** The error of the last failed setup, until a setup succeeds again. */
  setupError?: Error;

  constructor(
    readonly name: string,
    private readonly options: ManagedChannelOptions,
    private readonly logger: Logger,
    private readonly onSetupError: (error: unknown, channel: ManagedChannel) => void,
  ) {}

  /** The open channel, or undefined while (re)connecting. */
  get channel(): Channel | undefined {
    return this.current;
  }

  get confirmChannel(): ConfirmChannel | undefined {
    return this.current as ConfirmChannel | undefined;
  }

  get isOpen(): boolean {
    return this.current !== undefined;
  }

  /** The basic.qos prefetch count set on every new channel; undefined: none (unlimited). */
  get prefetch(): number | undefined {
    return this.options.prefetch;
  }

  /** Adds a setup; when the channel is open it runs at once on it. */
  async addSetup(setup: ChannelSetup): Promise<void> {
    this.setups.push(setup);
    const channel = this.current;
    if (channel) await this.runSetup(setup, channel);
  }

  removeSetup(setup: ChannelSetup): void {
    const index = this.setups.indexOf(setup);
    if (index >= 0) this.setups.splice(index, 1);
  }

  /** Resolves true when the channel is open and set up; false when its setup failed or `timeoutMs` passed. */
  waitUntilOpen(timeoutMs: number): Promise<boolean> {
    if (this.current) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = (open: boolean): void => {
        clearTimeout(timer);
        resolve(open);
      };
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.readyWaiters.push(waiter);
    });
  }

  /** Opens a channel on a fresh connection and runs every setup. */
  async open(connection: ChannelModel): Promise<void> {
    if (this.closed) return;
    this.connection = connection;
    const generation = ++this.openGeneration;
    let channel: Channel;
    try {
      channel = this.options.confirm ? await connection.createConfirmChannel() : await connection.createChannel();
    } catch (error) {
      // The connection went away while opening; the next 'connect' opens us again.
      this.logger.debug(`channel ${this.name}: open failed: ${(error as Error).message}`);
      return;
    }
    if (this.closed || generation !== this.openGeneration) {
      await channel.close().catch(() => undefined);
      return;
    }
    let lost = false;
    // A shared channel carries one consumer (and its close listener) per handler on it.
    channel.setMaxListeners(0);
    channel.on('error', (error: Error) => this.logger.debug(`channel ${this.name}: ${error.message}`));
    channel.once('close', () => {
      lost = true;
      this.handleClose(channel);
    });
    try {
      if (this.options.prefetch !== undefined) await channel.prefetch(this.options.prefetch);
      for (const setup of [...this.setups]) await setup(channel);
    } catch (error) {
      this.setupError = error as Error;
      // A failed declare usually closed the channel already.
      await channel.close().catch(() => undefined);
      // Retried while this connection stays up; a new connection opens the channel anew.
      const retry = !this.closed && generation === this.openGeneration && this.connection === connection;
      const delay = retry ? SETUP_RETRY_DELAYS_MS[Math.min(this.setupFailures++, SETUP_RETRY_DELAYS_MS.length - 1)] : undefined;
      // Reported before the waiters learn of it, so start-up sees the error in topologyErrors.
      if (!this.closed) this.reportSetupError(error, delay);
      this.notifyWaiters(false);
      if (delay !== undefined) this.schedule(connection, delay);
      return;
    }
    if (lost) {
      // Closed while its setups ran, without one of them failing: open another.
      this.notifyWaiters(false);
      if (!this.closed && generation === this.openGeneration) this.scheduleReopen();
      return;
    }
    this.setupError = undefined;
    if (this.reportedSetupError !== undefined) {
      this.logger.log(`channel ${this.name}: set up after ${this.setupFailures} failed attempt(s)`);
      this.reportedSetupError = undefined;
    }
    this.current = channel;
    this.reopenAttempt = 0;
    this.setupFailures = 0;
    this.options.onReady?.(channel);
    this.notifyWaiters(true);
  }

  /** Reports a setup error once per distinct message; repeats of it are only logged at debug. */
  private reportSetupError(error: unknown, retryInMs?: number): void {
    const message = error instanceof Error ? error.message : String(error);
    const retry = retryInMs === undefined ? '' : `; retrying in ${retryInMs} ms`;
    if (message === this.reportedSetupError) {
      this.logger.debug(`channel ${this.name}: setup failed again (${message})${retry}`);
      return;
    }
    this.reportedSetupError = message;
    this.onSetupError(error, this);
    if (retry) this.logger.debug(`channel ${this.name}: setup failed${retry}`);
  }

  private notifyWaiters(open: boolean): void {
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const waiter of waiters) waiter(open);
  }

  /** The connection dropped: forget the channel; the next connect reopens it. */
  connectionLost(): void {
    this.connection = undefined;
    this.clearReopen();
  }

  /** Closes the channel for good (shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    this.clearReopen();
    const channel = this.current;
    this.current = undefined;
    if (channel) await channel.close().catch(() => undefined);
  }

  /** Closes the current channel and opens a new one (e.g. after the broker cancelled a consumer). */
  /** Closes the channel (a new one opens by itself); resolves once the broker has closed it. */
  recycle(): Promise<void> {
    const channel = this.current;
    if (channel) return channel.close().catch(() => undefined);
    this.scheduleReopen();
    return Promise.resolve();
  }

  private async runSetup(setup: ChannelSetup, channel: Channel): Promise<void> {
    try {
      await setup(channel);
    } catch (error) {
      // If the failure closed the channel, the reopen runs every setup again (and retries a failing one).
      this.setupError = error as Error;
      this.reportSetupError(error);
    }
  }

  private handleClose(channel: Channel): void {
    const wasCurrent = this.current === channel;
    if (wasCurrent) this.current = undefined;
    this.options.onLost?.(channel, undefined);
    // A channel closed during its setup is retried by open(), with the setup backoff.
    if (this.closed || !wasCurrent) return;
    this.scheduleReopen();
  }

  private scheduleReopen(): void {
    const connection = this.connection;
    if (!connection) return;
    this.schedule(connection, REOPEN_DELAYS_MS[Math.min(this.reopenAttempt++, REOPEN_DELAYS_MS.length - 1)]);
  }

  /** Opens a channel on `connection` after `delay`, unless the connection changed, the channel closed for good, or one is open by then. */
  private schedule(connection: ChannelModel, delay: number): void {
    if (this.closed || this.reopenTimer) return;
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      if (this.connection === connection && !this.current && !this.closed) void this.open(connection);
    }, delay);
    this.reopenTimer.unref();
  }

  private clearReopen(): void {
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    this.reopenTimer = undefined;
    this.reopenAttempt = 0;
    this.setupFailures = 0;
  }
}
