import { Logger } from '@nestjs/common';
import type {
  CallOutcome,
  ConsumeInfo,
  ConsumeOutcome,
  OutboxBacklogInfo,
  OutboxRelayedInfo,
  OutboxWriteInfo,
  PublishInfo,
  RequestInfo,
  WarrenTelemetry,
} from '../options/telemetry.interface';
import type { DeliveryTelemetry } from '../consumer/delivery-telemetry';
import { errorText } from '../errors/error-text';

type Finish = (outcome: CallOutcome) => void;
type Hook = 'onPublish' | 'onRequest' | 'onConsume' | 'onReply' | 'onConnectionStatus' | 'onOutboxWrite' | 'onOutboxRelayed' | 'onOutboxBacklog';

/**
 * Fans Warren's hooks out to every configured telemetry; built only when there is at least one.
 * A hook that throws never changes what happens to a message, a publish or a request: its error
 * is logged (once per hook, at warn) and the work goes on without it. `onConsume` runs the
 * delivery exactly once even when a hook never calls `next()`, calls it twice, or throws.
 */
export class TelemetryHub implements DeliveryTelemetry {
  private readonly logger = new Logger('Telemetry');
  private readonly publishers: WarrenTelemetry[];
  private readonly requesters: WarrenTelemetry[];
  private readonly consumers: WarrenTelemetry[];
  private readonly repliers: WarrenTelemetry[];
  private readonly watchers: WarrenTelemetry[];
  /** `<telemetry index>.<hook>` of every hook whose failure was logged. */
  private readonly warned = new Set<string>();

  constructor(private readonly telemetries: WarrenTelemetry[]) {
    this.publishers = telemetries.filter((t) => t.onPublish !== undefined);
    this.requesters = telemetries.filter((t) => t.onRequest !== undefined);
    this.consumers = telemetries.filter((t) => t.onConsume !== undefined);
    this.repliers = telemetries.filter((t) => t.onReply !== undefined);
    this.watchers = telemetries.filter((t) => t.onConnectionStatus !== undefined);
  }

  static create(telemetries: WarrenTelemetry[] | undefined): TelemetryHub | undefined {
    return telemetries && telemetries.length > 0 ? new TelemetryHub(telemetries) : undefined;
  }

  publish(info: PublishInfo, headers: Record<string, unknown>): Finish | undefined {
    let finishers: Array<[WarrenTelemetry, Finish]> | undefined;
    for (const telemetry of this.publishers) {
      try {
        const finish = telemetry.onPublish!(info, headers);
        if (typeof finish === 'function') (finishers ??= []).push([telemetry, finish]);
      } catch (error) {
        this.hookFailed(telemetry, 'onPublish', error);
      }
    }
    return finishers && this.finisher('onPublish', finishers);
  }

  request(info: RequestInfo, headers: Record<string, unknown>): Finish | undefined {
    let finishers: Array<[WarrenTelemetry, Finish]> | undefined;
    for (const telemetry of this.requesters) {
      try {
        const finish = telemetry.onRequest!(info, headers);
        if (typeof finish === 'function') (finishers ??= []).push([telemetry, finish]);
      } catch (error) {
        this.hookFailed(telemetry, 'onRequest', error);
      }
    }
    return finishers && this.finisher('onRequest', finishers);
  }

  /** Runs `run` inside every `onConsume` hook, the first outermost; resolves with `run`'s outcome. */
  consume(info: ConsumeInfo, run: () => Promise<ConsumeOutcome>): Promise<ConsumeOutcome> {
    let next = run;
    for (let i = this.consumers.length - 1; i >= 0; i--) {
      const telemetry = this.consumers[i];
      const inner = next;
      next = () => this.around(telemetry, info, inner);
    }
    return next();
  }

  reply(headers: Record<string, unknown>): void {
    for (const telemetry of this.repliers) {
      try {
        telemetry.onReply!(headers);
      } catch (error) {
        this.hookFailed(telemetry, 'onReply', error);
      }
    }
  }

  connectionStatus(connection: string, status: string): void {
    for (const telemetry of this.watchers) {
      try {
        telemetry.onConnectionStatus!(connection, status);
      } catch (error) {
        this.hookFailed(telemetry, 'onConnectionStatus', error);
      }
    }
  }

  outboxWrite(info: OutboxWriteInfo, headers: Record<string, unknown>): void {
    for (const telemetry of this.telemetries) if (telemetry.onOutboxWrite) this.call(telemetry, 'onOutboxWrite', () => telemetry.onOutboxWrite!(info, headers));
  }

  outboxRelayed(info: OutboxRelayedInfo): void {
    for (const telemetry of this.telemetries) if (telemetry.onOutboxRelayed) this.call(telemetry, 'onOutboxRelayed', () => telemetry.onOutboxRelayed!(info));
  }

  outboxBacklog(info: OutboxBacklogInfo): void {
    for (const telemetry of this.telemetries) if (telemetry.onOutboxBacklog) this.call(telemetry, 'onOutboxBacklog', () => telemetry.onOutboxBacklog!(info));
  }

  private call(telemetry: WarrenTelemetry, hook: Hook, run: () => void): void {
    try {
      run();
    } catch (error) {
      this.hookFailed(telemetry, hook, error);
    }
  }

  /**
   * One hook around the rest of the chain. `next` runs at most once (a second call gets the
   * same promise), and runs even if the hook throws first or never calls it; the outcome is
   * always `next`'s, not what the hook returned.
   */
  private async around(telemetry: WarrenTelemetry, info: ConsumeInfo, next: () => Promise<ConsumeOutcome>): Promise<ConsumeOutcome> {
    let started: Promise<ConsumeOutcome> | undefined;
    const once = (): Promise<ConsumeOutcome> => (started ??= next());
    try {
      await telemetry.onConsume!(info, once);
    } catch (error) {
      this.hookFailed(telemetry, 'onConsume', error);
    }
    if (started === undefined) {
      this.hookFailed(telemetry, 'onConsume', 'it returned without calling next()');
      return once();
    }
    return started;
  }

  private finisher(hook: Hook, finishers: Array<[WarrenTelemetry, Finish]>): Finish {
    return (outcome) => {
      for (const [telemetry, finish] of finishers) {
        try {
          finish(outcome);
        } catch (error) {
          this.hookFailed(telemetry, hook, error);
        }
      }
    };
  }

  private hookFailed(telemetry: WarrenTelemetry, hook: Hook, error: unknown): void {
    const index = this.telemetries.indexOf(telemetry);
    const key = `${index}.${hook}`;
    if (this.warned.has(key)) return;
    this.warned.add(key);
    const name = telemetry.constructor?.name && telemetry.constructor.name !== 'Object' ? telemetry.constructor.name : `telemetry #${index + 1}`;
    this.logger.warn(
      `${name}.${hook} failed (${errorText(error)}); the message, publish or request goes on without it. ` +
        'Fix the hook; its further failures are not logged.',
    );
  }
}

/** The outcome label of a failed call: the error's code when it has one. */
export function outcomeOf(error: unknown): CallOutcome {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'ERROR';
}
