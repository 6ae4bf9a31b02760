import { RabbitParamType } from '../decorators/rabbit-params.decorator';

/** The fourth handler argument the explorer passes for a batch: the first three are then arrays, one entry per message. */
export const BATCH_CALL = Symbol('warren:batch-call');

/**
 * Resolves Warren's parameter decorators from a handler's arguments `(payload, message, headers)`.
 * For a batch handler they are arrays (payloads, raw messages, headers, in delivery order), and a
 * property or header name picks that value from each message.
 */
export class RabbitParamsFactory {
  exchangeKeyForValue(type: number, data: unknown, args: unknown[]): unknown {
    const batch = args[3] === BATCH_CALL;
    switch (type as RabbitParamType) {
      case RabbitParamType.PAYLOAD: {
        if (data === undefined) return args[0];
        return batch ? (args[0] as unknown[]).map((payload) => propertyOf(payload, String(data))) : propertyOf(args[0], String(data));
      }
      case RabbitParamType.HEADER: {
        if (batch) {
          const all = args[2] as Array<Record<string, unknown>>;
          return data !== undefined ? all.map((headers) => headers[String(data)]) : all;
        }
        const headers = (args[2] ?? {}) as Record<string, unknown>;
        return data !== undefined ? headers[String(data)] : headers;
      }
      case RabbitParamType.REQUEST: {
        const message = args[1];
        return data !== undefined && message !== null && typeof message === 'object' ? (message as Record<string, unknown>)[String(data)] : message;
      }
      default:
        return undefined;
    }
  }
}

function propertyOf(payload: unknown, property: string): unknown {
  return payload !== null && typeof payload === 'object' ? (payload as Record<string, unknown>)[property] : payload;
}
