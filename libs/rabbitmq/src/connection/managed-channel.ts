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

const REOPEN_DELAYS_MS = [100, 500, 1000, 2000, 5000];

/**
 * One AMQP channel kept alive across reconnects. Setups are replayed on every new
 * channel; a channel the broker closes while the connection stays up (an error on
 * this channel only) is reopened with a short backoff. A setup that fails is
 * reported through `onSetupError` and not retried until the next reconnect, so a
 * misdeclared queue cannot spin.
 */
export class ManagedChannel {
  private current?: Channel;
  private connection?: ChannelModel;
  private closed = false;
  private reopenAttempt = 0;
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
    channel.on('error', (error: Error) => this.logger.debug(`channel ${this.name}: ${error.message}`));
    channel.once('close', () => this.handleClose(channel));
    try {
      if (this.options.prefetch !== undefined) await channel.prefetch(this.options.prefetch);
      for (const setup of [...this.setups]) await setup(channel);
      this.setupError = undefined;
    } catch (error) {
      this.setupError = error as Error;
      this.onSetupError(error, this);
      // A failed declare usually closed the channel already; do not spin on it.
      this.reopenAttempt = REOPEN_DELAYS_MS.length;
      await channel.close().catch(() => undefined);
      this.notifyWaiters(false);
      return;
    }
    this.current = channel;
    this.reopenAttempt = 0;
    this.options.onReady?.(channel);
    this.notifyWaiters(true);
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
  recycle(): void {
    const channel = this.current;
    if (channel) void channel.close().catch(() => undefined);
    else this.scheduleReopen();
  }

  private async runSetup(setup: ChannelSetup, channel: Channel): Promise<void> {
    try {
      await setup(channel);
    } catch (error) {
      this.setupError = error as Error;
      this.onSetupError(error, this);
    }
  }

  private handleClose(channel: Channel): void {
    if (this.current === channel) this.current = undefined;
    this.options.onLost?.(channel, undefined);
    if (this.closed) return;
    this.scheduleReopen();
  }

  private scheduleReopen(): void {
    const connection = this.connection;
    if (!connection || this.closed || this.reopenTimer || this.reopenAttempt >= REOPEN_DELAYS_MS.length) return;
    const delay = REOPEN_DELAYS_MS[this.reopenAttempt++];
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      if (this.connection === connection && !this.current) void this.open(connection);
    }, delay);
    this.reopenTimer.unref();
  }

  private clearReopen(): void {
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    this.reopenTimer = undefined;
    this.reopenAttempt = 0;
  }
}
