import { Catch, type ArgumentsHost } from '@nestjs/common';
import { BaseRpcExceptionFilter, RpcException } from '@nestjs/microservices';
import { throwError, type Observable } from 'rxjs';

/**
 * Lets Warren see the errors your pattern handlers throw. Nest's default RPC
 * filter turns every error that is not an RpcException into
 * `{ status: 'error', message: 'Internal server error' }`, so a NonRetryableError
 * would be retried and a dead letter would not say what went wrong. With this
 * filter, RpcExceptions keep Nest's shape and every other error reaches Warren
 * as it was thrown: retried, dead-lettered with its reason, or sent to the
 * caller as an RpcRemoteError with its name, message and code.
 *
 * @example
 * ```ts
 * const app = await NestFactory.createMicroservice(AppModule, { strategy: new WarrenServer({ uri }) });
 * app.useGlobalFilters(new WarrenRpcExceptionFilter());
 * ```
 */
@Catch()
export class WarrenRpcExceptionFilter extends BaseRpcExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost): Observable<unknown> {
    if (exception instanceof RpcException) return super.catch(exception, host);
    return throwError(() => exception);
  }
}
