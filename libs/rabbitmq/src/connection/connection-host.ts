import { Logger } from '@nestjs/common';
import type { ChannelModel } from 'amqplib';
import { AmqpConnectionManagerClass, type AmqpConnectionManager } from 'amqp-connection-manager';
import { BehaviorSubject } from 'rxjs';
import { ConnectionFailedError, type ConnectionFailureReason } from '../errors/connection-failed.error';
import type { ResolvedOptions } from '../options/resolve-options';
import type { ConnectionStatus } from './connection-status';
import { ManagedChannel, type ManagedChannelOptions } from './managed-channel';
import { maskUrl } from '../options/mask-url';
import { settleWithin } from './settle-within';
import { coalesceWrites, encodePublishesInOneBuffer, socketOf } from './amqplib-internals';

/**
 * Owns one broker connection (through amqp-connection-manager: failover across
 * URLs, heartbeats, reconnects) and the channels on it. On every connect the
 * topology channel is set up first, then every other channel in parallel, so
 * bindings never race the exchanges they refer to.
 */
export class ConnectionHost {
  readonly status$ = new BehaviorSubject<ConnectionStatus>('connecting');
  private connectionManager?: AmqpConnectionManager;
  private readonly channels: ManagedChannel[] = [];
  private readonly topology: ManagedChannel;
  private current?: ChannelModel;
  private connectedOnce = false;
  private readonly masked: string[];
  /** The broker's reason while it blocks this connection (connection.blocked), until unblocked or disconnected. */
  private blocked?: string;
  private blockedAt = 0;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly logger: Logger,
    private readonly onSetupError: (error: unknown, channel: ManagedChannel) => void,
  ) {
    this.masked = options.uris.map(maskUrl);
    this.topology = new ManagedChannel('topology', { confirm: false }, logger, onSetupError);
  }

  get name(): string {
    return this.options.name;
  }

  /**
   * True while the connection is open, blocked or not: a blocked connection still receives
   * deliveries and must not be treated as lost. Check `isBlocked` before writing a publish.
   */
  get isConnected(): boolean {
    const status = this.status$.value;
    return status === 'connected' || status === 'blocked';
  }

  /**
   * True while the broker blocks publishing on this connection (a memory or disk alarm). The
   * broker then reads nothing from the socket: a publish written now is taken only when the
   * alarm clears, and channel, consumer and close operations get no answer until then.
   */
  get isBlocked(): boolean {
    return this.status$.value === 'blocked';
  }

  /** The broker's reason while blocked, e.g. 'low on memory' or 'low on disk'; otherwise undefined. */
  get blockedReason(): string | undefined {
    return this.isBlocked ? this.blocked : undefined;
  }

  /** True once `start()` was called (connected or not since). */
  get isStarted(): boolean {
    return this.connectionManager !== undefined;
  }

  /** amqp-connection-manager's connection manager, once started. */
  get manager(): AmqpConnectionManager | undefined {
    return this.connectionManager;
  }

  /** The raw amqplib connection while connected. */
  get connection(): ChannelModel | undefined {
    return this.current;
  }

  /** The channel that declares the module's exchanges and queues before anything else runs. */
  get topologyChannel(): ManagedChannel {
    return this.topology;
  }

  /** A channel kept open across reconnects; opened at once if connected. */
  createChannel(name: string, options: ManagedChannelOptions): ManagedChannel {
    const channel = new ManagedChannel(name, options, this.logger, this.onSetupError);
    this.channels.push(channel);
    if (this.current) void channel.open(this.current);
    return channel;
  }

  /** Channels open and in all (the topology channel included). */
  channelCounts(): { open: number; total: number } {
    const all = [this.topology, ...this.channels];
    return { open: all.filter((c) => c.isOpen).length, total: all.length };
  }

  async removeChannel(channel: ManagedChannel): Promise<void> {
    const index = this.channels.indexOf(channel);
    if (index >= 0) this.channels.splice(index, 1);
    await channel.close();
  }

  /** Connects. With `wait`, resolves once connected and set up, or throws ConnectionFailedError and stops retrying. */
  async start(): Promise<void> {
    const manager = new AmqpConnectionManagerClass(this.options.uris, {
      heartbeatIntervalInSeconds: this.options.heartbeatIntervalInSeconds,
      reconnectTimeInSeconds: this.options.reconnectTimeInSeconds,
      connectionOptions: {
        ...this.options.socketOptions,
        clientProperties: { connection_name: this.options.connectionName },
      },
    });
    this.connectionManager = manager;
    let lastError: Error | undefined;
    let refused = false;
    let tlsFailed = false;
    manager.on('connect', ({ connection, url }) => void this.onConnect(connection as ChannelModel, url));
    manager.on('disconnect', ({ err }) => this.onDisconnect(err));
    manager.on('connectFailed', ({ err, url }: { err: Error | undefined; url: unknown }) => {
      lastError = err;
      refused ||= isAccessRefused(err);
      tlsFailed ||= isTlsFailure(err);
      if (!this.options.logConnectFailures) return;
      const where = typeof url === 'string' ? maskUrl(url) : this.masked.join(', ');
      this.logger.warn(`Connection '${this.name}' to ${where} failed: ${maskText(err?.message ?? String(err))}`);
    });
    manager.on('blocked', ({ reason }) => this.onBlocked(reason));
    manager.on('unblocked', () => this.onUnblocked());
    manager.connect().catch(() => undefined);

    if (!this.options.wait) return;
    // Wrong credentials or certificates do not fix themselves: fail at once rather than retry until the timeout.
    const outcome = await this.waitForFirstConnect(this.options.initTimeout, () => refused || tlsFailed);
    if (outcome === 'connected') return;
    const reason: ConnectionFailureReason = refused ? 'access-refused' : tlsFailed ? 'tls' : outcome === 'timeout' ? 'timeout' : 'unreachable';
    if (!this.options.rejectOnInitFailure) {
      // connectionInitOptions.reject: false — start anyway and keep trying; channels are set up once connected.
      this.logger.warn(
        `Connection '${this.name}' not connected within ${this.options.initTimeout} ms (${reason}); starting anyway and retrying in the background ` +
          `(connectionInitOptions.reject: false)`,
      );
      return;
    }
    // The manager's close waits for an attempt still in its handshake (a broker that accepts but
    // never answers) until the socket times out: fail on time and let the close finish behind.
    await settleWithin(this.close(), 250);
    throw new ConnectionFailedError(this.name, this.masked, reason, this.options.initTimeout, maskError(lastError));
  }

  /**
   * Closes every channel and the connection; stops reconnecting. Waits for the broker's
   * answers until `deadline` (epoch ms; default: `shutdownTimeout` from now), then destroys
   * the socket: a blocked broker reads nothing from the connection, so it would answer no
   * close while its alarm lasts. Resolves once the socket is gone either way.
   */
  async close(deadline: number = Date.now() + this.options.shutdownTimeout): Promise<void> {
    if (this.status$.value === 'closed') return;
    const blocked = this.isBlocked ? this.blocked : undefined;
    this.status$.next('closed');
    const connection = this.current;
    const graceful = (async () => {
      await Promise.all([this.topology, ...this.channels].map((c) => c.close()));
      await this.connectionManager?.close().catch(() => undefined);
    })();
    const waitMs = Math.max(deadline - Date.now(), MIN_CLOSE_GRACE_MS);
    if (!(await settleWithin(graceful, waitMs))) {
      const why = blocked === undefined ? 'the broker did not answer the close' : `the broker blocks this connection (${blocked}) and reads nothing from it`;
      this.logger.warn(`Connection '${this.name}': ${why} by the shutdown deadline (shutdownTimeout ${this.options.shutdownTimeout} ms); closing its socket`);
      // The manager may still be waiting on a channel: stop its reconnecting now (idempotent).
      void this.connectionManager?.close().catch(() => undefined);
      if (connection) await settleWithin(destroySocket(connection), SOCKET_CLOSE_WAIT_MS);
    }
    this.current = undefined;
    this.blocked = undefined;
    this.status$.complete();
  }

  private waitForFirstConnect(timeoutMs: number, refused: () => boolean): Promise<'connected' | 'timeout' | 'refused'> {
    return new Promise((resolve) => {
      const poll = setInterval(() => {
        if (refused()) finish('refused');
      }, 50);
      const timer = setTimeout(() => finish('timeout'), timeoutMs);
      const subscription = this.status$.subscribe((status) => {
        if (status === 'connected' || status === 'blocked') finish('connected');
      });
      function finish(outcome: 'connected' | 'timeout' | 'refused'): void {
        clearInterval(poll);
        clearTimeout(timer);
        queueMicrotask(() => subscription.unsubscribe());
        resolve(outcome);
      }
    });
  }

  private async onConnect(connection: ChannelModel, url: unknown): Promise<void> {
    if (this.status$.value === 'closed') return;
    this.current = connection;
    coalesceWrites(connection);
    encodePublishesInOneBuffer(connection);
    await this.topology.open(connection);
    if (this.current !== connection) return;
    await Promise.all(this.channels.map((channel) => channel.open(connection)));
    if (this.current !== connection || this.isClosed()) return;
    const where = typeof url === 'string' ? maskUrl(url) : 'broker';
    this.logger.log(`Connection '${this.name}' ${this.connectedOnce ? 'reconnected' : 'connected'} to ${where}`);
    this.connectedOnce = true;
    // The broker may have blocked the connection while its channels were being set up.
    this.status$.next(this.blocked === undefined ? 'connected' : 'blocked');
  }

  private onBlocked(reason: unknown): void {
    this.blocked = typeof reason === 'string' && reason !== '' ? reason : 'no reason given';
    this.blockedAt = Date.now();
    this.logger.warn(
      `Connection '${this.name}' blocked by the broker (${this.blocked}): it reads nothing from this connection until the alarm clears; ` +
        `publishes wait, deliveries already sent still arrive`,
    );
    if (this.status$.value === 'connected') this.status$.next('blocked');
  }

  private onUnblocked(): void {
    if (this.blocked === undefined) return;
    this.blocked = undefined;
    this.logger.log(`Connection '${this.name}' unblocked after ${Date.now() - this.blockedAt} ms`);
    if (this.status$.value === 'blocked') this.status$.next('connected');
  }

  private isClosed(): boolean {
    return this.status$.value === 'closed';
  }

  private onDisconnect(error: unknown): void {
    this.current = undefined;
    // A block belongs to one connection: the next one starts unblocked until the broker says otherwise.
    this.blocked = undefined;
    for (const channel of [this.topology, ...this.channels]) channel.connectionLost();
    if (this.status$.value === 'closed') return;
    const reason = error instanceof Error ? `: ${maskText(error.message)}` : '';
    if (this.options.logDisconnects) this.logger.warn(`Connection '${this.name}' lost${reason}; reconnecting`);
    this.status$.next('disconnected');
  }
}

/** A healthy broker answers a close in milliseconds: even with no time left, give it this long before cutting the socket. */
const MIN_CLOSE_GRACE_MS = 100;
/** How long to wait for a destroyed socket's 'close'. */
const SOCKET_CLOSE_WAIT_MS = 1000;

/**
 * Ends a connection without the broker's cooperation, for a close the broker does not answer
 * (a blocked connection is not read until its alarm clears). Destroying the socket *with an
 * error* makes amqplib run its own teardown (channels closed, their pending calls rejected,
 * heartbeat timers cleared); without one it would never notice. Resolves once the socket has closed.
 */
function destroySocket(connection: ChannelModel): Promise<void> {
  // amqp-connection-manager reconnects when the connection emits 'close' (and arms a timer to
  // do so); this connection is being closed for good.
  connection.removeAllListeners('close');
  const socket = socketOf(connection);
  if (!socket || socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    socket.once('close', () => resolve());
    socket.destroy(new Error('closed by the client: the broker did not answer the connection close in time'));
  });
}

/** Certificate and handshake errors of Node's TLS (a CA that cannot verify, an expired or missing certificate, a non-TLS port). */
function isTlsFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/.test(code);
}

function isAccessRefused(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  // Not a bare '403': "connect ECONNREFUSED 127.0.0.1:40339" is no refusal of credentials.
  return /ACCESS[-_]REFUSED/.test(message);
}

/** Broker and socket errors sometimes quote the URL; never let a password through. */
function maskText(text: string): string {
  return text.replace(/(amqps?:\/\/[^:@/\s]*):[^@/\s]*@/gi, '$1:***@');
}

function maskError(error: Error | undefined): Error | undefined {
  if (!error) return undefined;
  const masked = new Error(maskText(error.message));
  masked.name = error.name;
  return masked;
}
