import { Logger } from '@nestjs/common';
import type { ChannelModel } from 'amqplib';
import { AmqpConnectionManagerClass, type AmqpConnectionManager } from 'amqp-connection-manager';
import { BehaviorSubject } from 'rxjs';
import { ConnectionFailedError, type ConnectionFailureReason } from '../errors/connection-failed.error';
import type { ResolvedOptions } from '../options/resolve-options';
import type { ConnectionStatus } from './connection-status';
import { ManagedChannel, type ManagedChannelOptions } from './managed-channel';
import { maskUrl } from './mask-url';

/**
 * Owns one broker connection (through amqp-connection-manager: failover across
 * URLs, heartbeats, reconnects) and the channels on it. On every connect the
 * topology channel is set up first, then every other channel in parallel, so
 * bindings never race the exchanges they refer to.
 */
export class ConnectionHost {
  readonly status$ = new BehaviorSubject<ConnectionStatus>('connecting');
  private manager?: AmqpConnectionManager;
  private readonly channels: ManagedChannel[] = [];
  private readonly topology: ManagedChannel;
  private current?: ChannelModel;
  private connectedOnce = false;
  private readonly masked: string[];

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

  get isConnected(): boolean {
    return this.status$.value === 'connected';
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
    this.manager = manager;
    let lastError: Error | undefined;
    let refused = false;
    let tlsFailed = false;
    manager.on('connect', ({ connection, url }) => void this.onConnect(connection as ChannelModel, url));
    manager.on('disconnect', ({ err }) => this.onDisconnect(err));
    manager.on('connectFailed', ({ err, url }) => {
      lastError = err;
      refused ||= isAccessRefused(err);
      tlsFailed ||= isTlsFailure(err);
      const where = typeof url === 'string' ? maskUrl(url) : this.masked.join(', ');
      this.logger.warn(`Connection '${this.name}' to ${where} failed: ${maskText(err?.message ?? String(err))}`);
    });
    manager.on('blocked', ({ reason }) => this.logger.warn(`Connection '${this.name}' blocked by the broker: ${reason}`));
    manager.on('unblocked', () => this.logger.log(`Connection '${this.name}' unblocked`));
    manager.connect().catch(() => undefined);

    if (!this.options.wait) return;
    // Wrong credentials or certificates do not fix themselves: fail at once rather than retry until the timeout.
    const outcome = await this.waitForFirstConnect(this.options.initTimeout, () => refused || tlsFailed);
    if (outcome === 'connected') return;
    // The manager's close waits for an attempt still in its handshake (a broker that accepts but
    // never answers) until the socket times out: fail on time and let the close finish behind.
    await settleWithin(this.close(), 250);
    const reason: ConnectionFailureReason = refused ? 'access-refused' : tlsFailed ? 'tls' : outcome === 'timeout' ? 'timeout' : 'unreachable';
    throw new ConnectionFailedError(this.name, this.masked, reason, this.options.initTimeout, maskError(lastError));
  }

  /** Closes every channel and the connection; stops reconnecting. */
  async close(): Promise<void> {
    if (this.status$.value === 'closed') return;
    this.status$.next('closed');
    await Promise.all([this.topology, ...this.channels].map((c) => c.close()));
    await this.manager?.close().catch(() => undefined);
    this.current = undefined;
    this.status$.complete();
  }

  private waitForFirstConnect(timeoutMs: number, refused: () => boolean): Promise<'connected' | 'timeout' | 'refused'> {
    return new Promise((resolve) => {
      const poll = setInterval(() => {
        if (refused()) finish('refused');
      }, 50);
      const timer = setTimeout(() => finish('timeout'), timeoutMs);
      const subscription = this.status$.subscribe((status) => {
        if (status === 'connected') finish('connected');
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
    await this.topology.open(connection);
    if (this.current !== connection) return;
    await Promise.all(this.channels.map((channel) => channel.open(connection)));
    if (this.current !== connection || this.isClosed()) return;
    const where = typeof url === 'string' ? maskUrl(url) : 'broker';
    this.logger.log(`Connection '${this.name}' ${this.connectedOnce ? 'reconnected' : 'connected'} to ${where}`);
    this.connectedOnce = true;
    this.status$.next('connected');
  }

  private isClosed(): boolean {
    return this.status$.value === 'closed';
  }

  private onDisconnect(error: unknown): void {
    this.current = undefined;
    for (const channel of [this.topology, ...this.channels]) channel.connectionLost();
    if (this.status$.value === 'closed') return;
    const reason = error instanceof Error ? `: ${maskText(error.message)}` : '';
    this.logger.warn(`Connection '${this.name}' lost${reason}; reconnecting`);
    this.status$.next('disconnected');
  }
}

/** Waits for `promise`, but no longer than `ms`. */
async function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
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
