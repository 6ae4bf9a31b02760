/**
 * What every contender implements. A contender only *opens* publishers,
 * consumers and RPC pairs the way its library is meant to be used; the
 * scenarios in `scenarios/` drive them and take every measurement, so all
 * contenders are timed by the same code.
 */

export const CONTENDER_NAMES = ['amqplib', 'amqplib-plain', 'warren', 'golevelup', 'nest-rmq'] as const;
export type ContenderName = (typeof CONTENDER_NAMES)[number];

/** The 1 KB JSON message every scenario sends. `id` is unique within a trial. */
export interface BenchPayload {
  id: number;
  /** Probe round in the reconnect scenario; 0 elsewhere. */
  round: number;
  sentAt: number;
  body: string;
}

/** Where a trial's messages go. All names are unique to the trial and deleted afterwards. */
export interface Route {
  exchange: string;
  routingKey: string;
  queue: string;
}

/** Settings every contender is asked to use (the same for all). */
export interface BenchSettings {
  url: string;
  prefetch: number;
  /** Prefix of every queue/exchange name of the trial, and the broker connection name. */
  namePrefix: string;
  rpcTimeoutMs: number;
}

/**
 * What the contender says it used. The trial also records what was observed
 * on the wire (see `support/wire-probe.ts`); the report prints both.
 */
export interface DeclaredSettings {
  /** Whether publishing waits for the broker's publisher confirm (null: the scenario does not publish). */
  confirms: boolean | null;
  noDelay: boolean;
  /** null: the scenario does not consume. */
  prefetch: number | null;
  /** Whether messages are published persistent (null: the scenario does not publish). */
  persistent: boolean | null;
  /** Where the contender could not honour a setting, or did it differently. */
  notes: string[];
}

export interface PublisherHandle {
  /** Resolves when the message is confirmed (or, without confirms, handed to the socket). */
  publish(payload: BenchPayload): Promise<void>;
  readonly settings: DeclaredSettings;
  close(): Promise<void>;
}

export interface ConsumerHandle {
  readonly settings: DeclaredSettings;
  close(): Promise<void>;
  /** A partitioned consumer's view of its group: how many instances it knows, which partitions it owns. */
  partitionGroups?(): Array<{ instances: number; owned: number[] }>;
}

export interface RpcHandle {
  /** One request/reply round trip; resolves with the reply payload. */
  call(payload: BenchPayload): Promise<BenchPayload>;
  readonly settings: DeclaredSettings;
  close(): Promise<void>;
}

/** Many handlers in one application (start-up and reconnect scenarios). */
export interface HandlerFleetHandle {
  readonly settings: DeclaredSettings;
  close(): Promise<void>;
}

/** Optional consumer features (Warren only for now). */
export interface ConsumerFeatures {
  retry?: boolean;
  dedup?: boolean;
  /** Batch consume: the handler gets up to this many messages at once (Warren's `batch: { size }`). */
  batch?: number;
  /** Partitioned, ordered consumption over this many partition queues (`<queue>.p<i>`). */
  partitions?: number;
}

/** A listener may return a promise: the handler (and, for a partitioned handler, its partition) waits for it. */
export type MessageListener = (payload: BenchPayload) => void | Promise<void>;

export interface Contender {
  readonly name: ContenderName;

  /** Publishes to `route.exchange`/`route.routingKey` (the queue exists and is bound). */
  openPublisher(settings: BenchSettings, route: Route): Promise<PublisherHandle>;

  /**
   * Consumes `route.queue` (already filled; the format `encodeForQueue` gives),
   * calling `listener` once per message and acking it the library's way.
   */
  openConsumer(settings: BenchSettings, route: Route, listener: MessageListener, features?: ConsumerFeatures): Promise<ConsumerHandle>;

  /** Starts an RPC server on `route.queue` that echoes the request, and a client calling it. */
  openRpc(settings: BenchSettings, route: Route): Promise<RpcHandle>;

  /** The bytes and properties a pre-filled message must have for this contender's consumer to accept it. */
  encodeForQueue?(payload: BenchPayload): Buffer;

  /** Optional: `routes.length` subscribe handlers in one application, each on its own queue. */
  openHandlerFleet?(settings: BenchSettings, routes: readonly Route[], listener: (index: number, payload: BenchPayload) => void): Promise<HandlerFleetHandle>;

  /** Optional: an RPC client only, calling `route` where nobody answers (outstanding-calls memory scenario). */
  openRpcClient?(settings: BenchSettings, route: Route): Promise<RpcHandle>;
}

/** Thrown when a contender cannot run (library missing, not built, API gap): the trial is skipped, not failed. */
export class ContenderUnavailableError extends Error {
  constructor(
    readonly contender: ContenderName,
    readonly reason: string,
  ) {
    super(`${contender} unavailable: ${reason}`);
    this.name = 'ContenderUnavailableError';
  }
}

/** Thrown when a contender does not support a scenario. */
export class ScenarioUnsupportedError extends Error {
  constructor(
    readonly contender: ContenderName,
    readonly scenario: string,
  ) {
    super(`${contender} does not support ${scenario}`);
    this.name = 'ScenarioUnsupportedError';
  }
}
