import { BenchPayload, Contender, HandlerFleetHandle, Route, ScenarioUnsupportedError } from '../contender';
import { runBounded } from '../support/drive';
import { MeasureWindow } from '../support/measure';
import { encodePayload, makePayload } from '../support/payload';
import { canManageConnections, closeConnectionsByClientPort } from '../support/rabbitmqctl';
import { nowMs, waitFor } from '../support/time';
import { wireProbe } from '../support/wire-probe';
import { BenchIntegrityError, ScenarioContext, ScenarioOutcome, ScenarioUnavailableError } from './scenario';

/** A fleet of `count` handlers, each on its own queue, and per-round delivery tracking. */
class Fleet {
  readonly routes: Route[];
  private readonly got = new Map<number, Uint8Array>();
  private readonly counts = new Map<number, number>();

  constructor(
    private readonly contender: Contender,
    private readonly ctx: ScenarioContext,
  ) {
    this.routes = Array.from({ length: ctx.params.count }, (_, i) => ctx.route(`h${i}`));
  }

  open(): Promise<HandlerFleetHandle> {
    if (!this.contender.openHandlerFleet) throw new ScenarioUnsupportedError(this.contender.name, 'handler fleet');
    return this.contender.openHandlerFleet(this.ctx.settings, this.routes, (index, payload) => this.record(index, payload));
  }

  private record(index: number, payload: BenchPayload): void {
    let got = this.got.get(payload.round);
    if (!got) this.got.set(payload.round, (got = new Uint8Array(this.routes.length)));
    if (got[index]) return;
    got[index] = 1;
    this.counts.set(payload.round, (this.counts.get(payload.round) ?? 0) + 1);
  }

  received(round: number): number {
    return this.counts.get(round) ?? 0;
  }

  /** One probe message per handler, through the helper's own connection. */
  async probe(round: number, deadline: number): Promise<void> {
    const sent = await runBounded(this.routes.length, this.ctx.params.concurrency, deadline, async (i) => {
      const r = this.routes[i];
      await this.ctx.helper.publish(r.exchange, r.routingKey, encodePayload(makePayload(i, round)), `${r.queue}-probe-${round}`);
    });
    if (sent < this.routes.length) throw new BenchIntegrityError(`only ${sent}/${this.routes.length} probes published within the time budget`);
  }

  async waitForRound(round: number, deadline: number): Promise<void> {
    await waitFor(() => this.received(round) === this.routes.length, Math.max(0, deadline - Date.now()), 2);
    const got = this.received(round);
    if (got < this.routes.length) {
      throw new BenchIntegrityError(`${this.routes.length - got}/${this.routes.length} handlers did not receive their probe (round ${round}) in time`);
    }
  }
}

/**
 * Start-up with N (500) subscribe handlers: time from creating the
 * application to `init()` resolving ("ready"), and until one probe message
 * per queue has reached every handler ("all consuming").
 */
export async function runStartup(contender: Contender, ctx: ScenarioContext): Promise<ScenarioOutcome> {
  const fleet = new Fleet(contender, ctx);
  const deadline = Date.now() + ctx.params.budgetMs;
  const window = new MeasureWindow();
  window.start();
  const t0 = nowMs();
  const handle = await fleet.open();
  const startupMs = nowMs() - t0;
  let allLiveMs: number;
  try {
    await fleet.probe(1, deadline);
    await fleet.waitForRound(1, deadline);
    allLiveMs = nowMs() - t0;
  } finally {
    await handle.close();
  }
  const w = window.stop();
  const n = fleet.routes.length;
  return {
    metrics: { startupMs, allLiveMs, handlers: n },
    ops: n,
    durationMs: w.durationMs,
    cpuUs: w.cpuUs,
    cpuUsPerOp: w.cpuUs / n,
    truncated: false,
    settings: handle.settings,
    notes: [`${n} handlers, one queue each; CPU covers start-up and the probe round`],
  };
}

/**
 * Reconnect with N (500) handlers: once all consume, the broker closes the
 * contender's connections (`rabbitmqctl close_connection`, chosen by client
 * port, so nothing else on the broker is touched). Measured: from the first
 * of its sockets closing until a fresh probe has reached every handler.
 */
export async function runReconnect(contender: Contender, ctx: ScenarioContext): Promise<ScenarioOutcome> {
  const cannot = await canManageConnections();
  if (cannot) throw new ScenarioUnavailableError(`the broker's connections cannot be closed from here (${cannot})`);
  const fleet = new Fleet(contender, ctx);
  const deadline = Date.now() + ctx.params.budgetMs;
  const handle = await fleet.open();
  const window = new MeasureWindow();
  let resubscribeMs: number;
  let closed: number;
  try {
    await fleet.probe(1, deadline);
    await fleet.waitForRound(1, deadline);

    const sockets = wireProbe.contenderSockets();
    const ports = sockets.map((s) => s.localPort).filter((port): port is number => port !== undefined && port !== ctx.helper.localPort);
    if (ports.length === 0) throw new Error(`found no broker connection of ${contender.name} to close`);
    let closedAt: number | undefined;
    for (const s of sockets) s.once('close', () => (closedAt ??= nowMs()));

    window.start();
    closed = await closeConnectionsByClientPort(ports, `benchmark: reconnect scenario (${ctx.params.namePrefix})`);
    if (closed === 0) {
      throw new ScenarioUnavailableError(
        `rabbitmqctl's node lists none of the ${ports.length} connection(s) of ${contender.name}: is AMQP_URL the local node rabbitmqctl manages?`,
      );
    }
    if (!(await waitFor(() => closedAt !== undefined, 30_000))) throw new Error('the broker closed the connection but the socket stayed open');

    await fleet.probe(2, deadline);
    await fleet.waitForRound(2, deadline);
    resubscribeMs = nowMs() - closedAt!;
  } finally {
    if (window.started) window.stop();
    await handle.close();
  }
  const w = window.stop();
  const n = fleet.routes.length;
  return {
    metrics: { resubscribeMs, connectionsClosed: closed, handlers: n },
    ops: n,
    durationMs: w.durationMs,
    cpuUs: w.cpuUs,
    cpuUsPerOp: w.cpuUs / n,
    truncated: false,
    settings: handle.settings,
    notes: [`${closed} connection(s) closed by the broker; time includes the library's reconnect delay`],
  };
}
