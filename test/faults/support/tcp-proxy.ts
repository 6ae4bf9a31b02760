import { createHook } from 'node:async_hooks';
import { createServer, connect, type Server, type Socket } from 'node:net';

export type ProxyMode = 'refuse' | 'blackhole' | 'forward';

/**
 * A TCP proxy in front of the broker that the test switches between refusing connections
 * (nothing listens: ECONNREFUSED), accepting and never answering (a black hole), and forwarding.
 * It counts connection attempts and knows which client sockets are still open.
 */
export class TcpProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private readonly clients = new Set<Socket>();
  mode: ProxyMode = 'refuse';
  /** Connections accepted since start. */
  accepted = 0;

  private constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  /** A proxy on a free port (the first free one of `ports`, if given), refusing until told otherwise. */
  static async create(target: { host: string; port: number }, ports: number[] = [0]): Promise<TcpProxy> {
    for (const wanted of ports) {
      const probe = createServer();
      const ok = await new Promise<boolean>((resolve) => {
        probe.once('error', () => resolve(false));
        probe.listen(wanted, '127.0.0.1', () => resolve(true));
      });
      if (!ok) continue;
      const port = (probe.address() as { port: number }).port;
      await new Promise((resolve) => probe.close(resolve));
      return new TcpProxy(port, target);
    }
    throw new Error(`no free port among ${ports.join(', ')}`);
  }

  /** Client connections still open. */
  get openConnections(): number {
    return this.clients.size;
  }

  async setMode(mode: ProxyMode): Promise<void> {
    this.mode = mode;
    if (mode === 'refuse') {
      await this.stopListening();
      return;
    }
    if (!this.server) await this.listen();
  }

  /** Cuts every open connection (as a network failure would). */
  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  async close(): Promise<void> {
    this.mode = 'refuse';
    await this.stopListening();
  }

  private async listen(): Promise<void> {
    const server = createServer((client) => this.onClient(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  private async stopListening(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.dropConnections();
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  private onClient(client: Socket): void {
    this.accepted++;
    this.sockets.add(client);
    this.clients.add(client);
    client.on('close', () => {
      this.sockets.delete(client);
      this.clients.delete(client);
    });
    client.on('error', () => undefined);
    if (this.mode !== 'forward') {
      // Read and drop what the client sends, so its close is seen.
      client.resume();
      return;
    }
    const upstream = connect(this.target.port, this.target.host);
    this.sockets.add(upstream);
    upstream.on('close', () => {
      this.sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

/** Counts of process.getActiveResourcesInfo() by kind (timers, sockets, ...). */
export function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

/**
 * Follows the timers and sockets created between `begin()` and `freeze()` (async_hooks) until
 * they are destroyed, so a check sees what a piece of code left behind and not what unrelated
 * code (Jest, earlier tests) happens to be running.
 */
export class ResourceTracker {
  private readonly live = new Map<number, string>();
  private recording = false;
  private readonly hook = createHook({
    init: (id, type) => {
      if (this.recording && ResourceTracker.KINDS.has(type)) this.live.set(id, type);
    },
    destroy: (id) => {
      this.live.delete(id);
    },
  });
  private static readonly KINDS = new Set(['Timeout', 'TCPWRAP', 'TLSWRAP', 'TCPCONNECTWRAP']);

  begin(): void {
    this.live.clear();
    this.recording = true;
    this.hook.enable();
  }

  /** Stops noting new resources; those noted stay followed until destroyed. */
  freeze(): void {
    this.recording = false;
  }

  /** Resources noted and not destroyed yet, by kind. */
  remaining(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const kind of this.live.values()) counts[kind] = (counts[kind] ?? 0) + 1;
    return counts;
  }

  stop(): void {
    this.hook.disable();
    this.live.clear();
  }
}
