import type { CallOutcome, ConsumeInfo, ConsumeOutcome, PublishInfo, RequestInfo, WarrenTelemetry } from './telemetry.interface';

type Finish = (outcome: CallOutcome) => void;

/** Fans Warren's hooks out to every configured telemetry; built only when there is at least one. */
export class TelemetryHub {
  private readonly publishers: WarrenTelemetry[];
  private readonly requesters: WarrenTelemetry[];
  private readonly consumers: WarrenTelemetry[];
  private readonly repliers: WarrenTelemetry[];
  private readonly watchers: WarrenTelemetry[];

  constructor(telemetries: WarrenTelemetry[]) {
    this.publishers = telemetries.filter((t) => t.onPublish);
    this.requesters = telemetries.filter((t) => t.onRequest);
    this.consumers = telemetries.filter((t) => t.onConsume);
    this.repliers = telemetries.filter((t) => t.onReply);
    this.watchers = telemetries.filter((t) => t.onConnectionStatus);
  }

  static create(telemetries: WarrenTelemetry[] | undefined): TelemetryHub | undefined {
    return telemetries && telemetries.length > 0 ? new TelemetryHub(telemetries) : undefined;
  }

  publish(info: PublishInfo, headers: Record<string, unknown>): Finish | undefined {
    return collect(this.publishers.map((t) => t.onPublish!(info, headers)));
  }

  request(info: RequestInfo, headers: Record<string, unknown>): Finish | undefined {
    return collect(this.requesters.map((t) => t.onRequest!(info, headers)));
  }

  consume(info: ConsumeInfo, run: () => Promise<ConsumeOutcome>): Promise<ConsumeOutcome> {
    let next = run;
    for (let i = this.consumers.length - 1; i >= 0; i--) {
      const telemetry = this.consumers[i];
      const inner = next;
      next = () => telemetry.onConsume!(info, inner);
    }
    return next();
  }

  reply(headers: Record<string, unknown>): void {
    for (const telemetry of this.repliers) telemetry.onReply!(headers);
  }

  connectionStatus(connection: string, status: string): void {
    for (const telemetry of this.watchers) telemetry.onConnectionStatus!(connection, status);
  }
}

function collect(finishers: Array<Finish | void>): Finish | undefined {
  const list = finishers.filter((f): f is Finish => typeof f === 'function');
  if (list.length === 0) return undefined;
  if (list.length === 1) return list[0];
  return (outcome) => {
    for (const finish of list) finish(outcome);
  };
}

/** The outcome label of a failed call: the error's code when it has one. */
export function outcomeOf(error: unknown): CallOutcome {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'ERROR';
}
