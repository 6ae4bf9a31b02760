import { Logger } from '@nestjs/common';
import type { ConsumeInfo, ConsumeOutcome, WarrenTelemetry } from '../options/telemetry.interface';
import { TelemetryHub } from './telemetry-hub';

const info = { connection: 'c', queue: 'q', handler: 'H.run', exchange: 'x', routingKey: 'k', messageId: undefined, headers: {}, attempt: 1 } as ConsumeInfo;

function counting(outcome: ConsumeOutcome = 'acked') {
  const run = jest.fn(async (): Promise<ConsumeOutcome> => outcome);
  return run;
}

describe('TelemetryHub', () => {
  let warn: jest.SpyInstance;
  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => warn.mockRestore());

  it('runs the delivery exactly once, with its own outcome, whatever the onConsume hooks do', async () => {
    const hooks: WarrenTelemetry[] = [
      { onConsume: () => Promise.reject(new Error('before next')) },
      {
        onConsume: async (_i, next) => {
          await next();
          throw new Error('after next');
        },
      },
      {
        onConsume: async (_i, next) => {
          await next();
          await next();
          return 'dropped';
        },
      },
      { onConsume: async () => 'acked' },
    ];
    const hub = new TelemetryHub(hooks);
    const run = counting('dead-lettered');
    await expect(hub.consume(info, run)).resolves.toBe('dead-lettered');
    expect(run).toHaveBeenCalledTimes(1);
  });

  it('logs a failing hook once, at warn, however often it fails', async () => {
    const hub = new TelemetryHub([
      {
        onConsume: () => {
          throw new Error('broken hook');
        },
      },
    ]);
    for (let i = 0; i < 3; i++) await hub.consume(info, counting());
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toContain('broken hook');
  });

  it('keeps publish, request, reply and status hooks (and their callbacks) from throwing', () => {
    const broken = (): never => {
      throw new Error('broken');
    };
    const hub = new TelemetryHub([{ onPublish: broken, onRequest: () => broken, onReply: broken, onConnectionStatus: broken }, { onPublish: () => broken }]);
    const finishPublish = hub.publish({ connection: 'c', exchange: 'x', routingKey: 'k', messageId: undefined }, {});
    expect(() => finishPublish?.('ok')).not.toThrow();
    const finishRequest = hub.request({ connection: 'c', exchange: 'x', routingKey: 'k' }, {});
    expect(() => finishRequest?.('ok')).not.toThrow();
    expect(() => hub.reply({})).not.toThrow();
    expect(() => hub.connectionStatus('c', 'connected')).not.toThrow();
  });

  it('fans the outbox hooks out to every telemetry; one that throws is logged once and the others still run', () => {
    const seen: string[] = [];
    const hub = new TelemetryHub([
      {
        onOutboxRelayed: () => {
          throw new Error('broken hook');
        },
        onOutboxBacklog: () => {
          throw new Error('broken hook');
        },
      },
      {
        onOutboxWrite: (_info, headers) => void (headers.traceparent = 'tp'),
        onOutboxRelayed: (relayed) => void seen.push(`relayed ${relayed.outcome}`),
        onOutboxBacklog: (backlog) => void seen.push(`backlog ${backlog.pending}`),
      },
    ]);
    const headers: Record<string, unknown> = {};
    hub.outboxWrite({ table: 't', exchange: 'x', routingKey: 'k', messageId: 'm' }, headers);
    const relayed = { table: 't', exchange: 'x', routingKey: 'k', messageId: 'm', outcome: 'sent' as const, latencyMs: 3, errorCode: undefined };
    hub.outboxRelayed(relayed);
    hub.outboxRelayed(relayed);
    hub.outboxBacklog({ table: 't', pending: 2, parked: 0, failed: 0, oldestPendingAgeMs: 10 });
    expect(headers).toEqual({ traceparent: 'tp' });
    expect(seen).toEqual(['relayed sent', 'relayed sent', 'backlog 2']);
    expect(warn.mock.calls.map(([message]) => String(message))).toEqual([
      expect.stringContaining('onOutboxRelayed failed (broken hook)'),
      expect.stringContaining('onOutboxBacklog failed (broken hook)'),
    ]);
  });
});
