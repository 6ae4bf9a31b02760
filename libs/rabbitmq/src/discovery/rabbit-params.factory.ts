import { RabbitParamType } from '../decorators/rabbit-params.decorator';

/** Resolves Warren's parameter decorators from a handler's arguments `(payload, message, headers)`. */
export class RabbitParamsFactory {
  exchangeKeyForValue(type: number, data: unknown, args: unknown[]): unknown {
    switch (type as RabbitParamType) {
      case RabbitParamType.PAYLOAD: {
        const payload = args[0];
        return data !== undefined && payload !== null && typeof payload === 'object' ? (payload as Record<string, unknown>)[String(data)] : payload;
      }
      case RabbitParamType.HEADER: {
        const headers = (args[2] ?? {}) as Record<string, unknown>;
        return data !== undefined ? headers[String(data)] : headers;
      }
      case RabbitParamType.REQUEST:
        return args[1];
      default:
        return undefined;
    }
  }
}
