import type { ConsumeInfo, ConsumeOutcome } from '../options/telemetry.interface';

/**
 * What the dispatcher reports of each delivery. observability/'s TelemetryHub implements it
 * and the facade passes it in, so the consumer does not depend on the telemetry feature.
 */
export interface DeliveryTelemetry {
  /** Runs the delivery inside the consume hooks: `run` exactly once, whatever the hooks do; never rejects. */
  consume(info: ConsumeInfo, run: () => Promise<ConsumeOutcome>): Promise<ConsumeOutcome>;
  /** Lets the hooks add their headers to an RPC reply before it is published. */
  reply(headers: Record<string, unknown>): void;
}
