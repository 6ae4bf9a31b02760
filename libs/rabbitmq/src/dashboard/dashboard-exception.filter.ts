import { Catch, HttpException, Inject, Injectable, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { ResolvedDashboardOptions } from './dashboard-options';
import { DASHBOARD_OPTIONS } from './dashboard.service';
import { errorPage } from './dashboard-pages';
import { SECURITY_HEADERS } from './dashboard.controller';

/**
 * Answers the dashboard's errors: JSON (`{ statusCode, message }`) for the API and for clients that ask for
 * JSON, an HTML page for the pages (so a refusing guard shows a 403 page). Unexpected errors are logged
 * and answered 500 without their details.
 */
@Catch()
@Injectable()
export class DashboardExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('WarrenDashboard');
  private readonly base: string;

  constructor(
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(DASHBOARD_OPTIONS) options: ResolvedDashboardOptions,
  ) {
    this.base = options.path === '/' ? '' : options.path;
  }

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<{ url?: string; originalUrl?: string; headers: Record<string, string | undefined> }>();
    const response = http.getResponse<unknown>();
    const adapter = this.adapterHost.httpAdapter;
    let status = 500;
    let message = 'The dashboard failed to answer; see the application log';
    if (exception instanceof HttpException) {
      status = exception.getStatus();
      const body = exception.getResponse();
      const text = typeof body === 'string' ? body : (body as { message?: unknown }).message;
      message = Array.isArray(text) ? text.join('; ') : String(text ?? exception.message);
    } else {
      this.logger.error(`Dashboard request failed: ${(exception as Error)?.stack ?? String(exception)}`);
    }
    const url = request.originalUrl ?? request.url ?? '';
    // The API answers JSON; so does a page asked for JSON. `includes`: the host may mount the app under a global prefix.
    const wantsJson = url.split('?')[0].includes(`${this.base}/api/`) || (request.headers.accept ?? '').startsWith('application/json');
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) adapter.setHeader(response, name, value);
    if (wantsJson) {
      adapter.setHeader(response, 'Content-Type', 'application/json; charset=utf-8');
      adapter.reply(response, { statusCode: status, message }, status);
      return;
    }
    const title =
      status === 401
        ? 'Unauthorized'
        : status === 403
          ? 'Forbidden'
          : status === 404
            ? 'Not found'
            : status === 400
              ? 'Bad request'
              : status === 503
                ? 'Unavailable'
                : 'Error';
    adapter.setHeader(response, 'Content-Type', 'text/html; charset=utf-8');
    adapter.reply(
      response,
      errorPage(status, title, status === 403 && message === 'Forbidden resource' ? 'You may not open the Warren dashboard.' : message).text,
      status,
    );
  }
}
