import {
  BadRequestException,
  Body,
  ForbiddenException,
  Get,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  Post,
  Query,
  Req,
  Res,
  ServiceUnavailableException,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ConnectionClosedError } from '../errors/connection-closed.error';
import { DASHBOARD_CSS, DASHBOARD_JS } from './dashboard-assets';
import { csrfCookie, csrfProblem, csrfSetCookie, newCsrfToken, type CsrfRequest } from './dashboard-csrf';
import type { Html } from './dashboard-html';
import {
  connectionsTable,
  deadLetterList,
  deadLetterQueuePage,
  deadLetterQueuesTable,
  deadLetterSummary,
  handlersTable,
  layout,
  live,
  outboxList,
  outboxPage,
  queuesTables,
  type PageContext,
  type PageName,
} from './dashboard-pages';
import type { DeadLetterFilter, DeadLetterPage } from './dead-letter-browser';
import { DashboardService, type DashboardReplayResult, type OutboxHeldPage } from './dashboard.service';

type Request = CsrfRequest & { protocol?: string; secure?: boolean; url?: string; originalUrl?: string };
type QueryParams = Record<string, unknown>;

/** Headers of every dashboard response: nothing cached, framed or sniffed; scripts and styles only from the dashboard. */
export const SECURITY_HEADERS: Record<string, string> = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
};

const MAX_IDS = 1000;
const MAX_TEXT = 200;

function text(query: QueryParams, name: string): string | undefined {
  const value = query[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || value.length > MAX_TEXT) throw new BadRequestException(`${name} must be a string of at most ${MAX_TEXT} characters`);
  return value;
}

function pageNumber(query: QueryParams): number {
  const raw = query.page;
  if (raw === undefined || raw === '') return 1;
  const page = typeof raw === 'string' && /^\d{1,6}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(page) || page < 1) throw new BadRequestException('page must be a positive whole number');
  return page;
}

function filterOf(source: QueryParams): DeadLetterFilter {
  return { error: text(source, 'error'), handler: text(source, 'handler') };
}

/** The connection dropped or the queue is not there: say so instead of a bare 500. */
function unavailable(error: unknown): never {
  if (error instanceof ConnectionClosedError) throw new ServiceUnavailableException(`RabbitMQ is not connected now (${error.message}); try again shortly`);
  if ((error as { code?: unknown } | null)?.code === 404) {
    throw new NotFoundException('The queue does not exist on the broker (not declared yet, or deleted): start the service that declares it');
  }
  throw error;
}

/**
 * Pages, assets and the JSON API of the dashboard. WarrenDashboardModule mounts a subclass at its path,
 * with the host's guard in front of every route.
 */
export class DashboardControllerBase {
  constructor(
    @Inject(DashboardService) protected readonly dashboard: DashboardService,
    @Inject(HttpAdapterHost) protected readonly adapterHost: HttpAdapterHost,
  ) {}

  // ---- assets ----

  @Get('assets/dashboard.css')
  css(@Res({ passthrough: true }) response: unknown): string {
    this.headers(response, 'text/css; charset=utf-8');
    return DASHBOARD_CSS;
  }

  @Get('assets/dashboard.js')
  js(@Res({ passthrough: true }) response: unknown): string {
    this.headers(response, 'text/javascript; charset=utf-8');
    return DASHBOARD_JS;
  }

  // ---- pages ----

  @Get()
  index(@Req() request: Request, @Res({ passthrough: true }) response: unknown, @Query() query: QueryParams): string {
    return this.handlersPage(request, response, query);
  }

  @Get('handlers')
  handlersPage(@Req() request: Request, @Res({ passthrough: true }) response: unknown, @Query() query: QueryParams): string {
    const base = this.baseOf(request);
    const table = handlersTable(base, this.dashboard.handlers(), this.dashboard.options.telemetry !== undefined);
    return this.page(request, response, query, 'handlers', 'Handlers', { name: 'handlers', content: table });
  }

  @Get('queues')
  async queuesPage(@Req() request: Request, @Res({ passthrough: true }) response: unknown, @Query() query: QueryParams): Promise<string> {
    const rows = await this.dashboard.queues().catch(unavailable);
    return this.page(request, response, query, 'queues', 'Queues', { name: 'queues', content: queuesTables(this.baseOf(request), rows) });
  }

  @Get('connections')
  connectionsPage(@Req() request: Request, @Res({ passthrough: true }) response: unknown, @Query() query: QueryParams): string {
    return this.page(request, response, query, 'connections', 'Connections', { name: 'connections', content: connectionsTable(this.dashboard.connections()) });
  }

  @Get('dead-letters')
  async deadLetterQueuesPage(@Req() request: Request, @Res({ passthrough: true }) response: unknown, @Query() query: QueryParams): Promise<string> {
    const rows = await this.dashboard.deadLetterQueues().catch(unavailable);
    return this.page(request, response, query, 'dead-letters', 'Dead letters', { name: 'queues', content: deadLetterQueuesTable(this.baseOf(request), rows) });
  }

  @Get('dead-letters/:queue')
  async deadLetterQueuePage(
    @Req() request: Request,
    @Res({ passthrough: true }) response: unknown,
    @Param('queue') queue: string,
    @Query() query: QueryParams,
  ): Promise<string> {
    this.assertDeadLetterQueue(queue);
    const base = this.baseOf(request);
    const part = query.part;
    if (part === 'summary') {
      this.headers(response, 'text/html; charset=utf-8');
      return deadLetterSummary(queue, await this.count(queue)).text;
    }
    const letters = await this.browse(queue, query);
    if (part === 'list') {
      this.headers(response, 'text/html; charset=utf-8');
      return deadLetterList(base, letters, this.dashboard.options.readOnly).text;
    }
    if (part !== undefined) throw new NotFoundException(`This page has no part '${String(part).slice(0, MAX_TEXT)}'`);
    const body = deadLetterQueuePage(base, letters, letters.total, this.dashboard.options.readOnly);
    return this.page(request, response, {}, 'dead-letters', `Dead letters: ${queue}`, { content: body });
  }

  @Get('outbox')
  async outboxPage(@Req() request: Request, @Res({ passthrough: true }) response: unknown, @Query() query: QueryParams): Promise<string> {
    this.assertOutbox();
    const held = await this.dashboard.outboxHeld();
    const readOnly = this.dashboard.options.readOnly;
    if (query.part === 'list') {
      this.headers(response, 'text/html; charset=utf-8');
      return outboxList(held, readOnly).text;
    }
    if (query.part !== undefined) throw new NotFoundException(`This page has no part '${String(query.part).slice(0, MAX_TEXT)}'`);
    return this.page(request, response, {}, 'outbox', `Outbox: ${held.table}`, { content: outboxPage(this.baseOf(request), held, readOnly) });
  }

  // ---- JSON API ----

  @Get('api/handlers')
  apiHandlers(@Res({ passthrough: true }) response: unknown) {
    this.headers(response);
    return this.dashboard.handlers();
  }

  @Get('api/queues')
  apiQueues(@Res({ passthrough: true }) response: unknown) {
    this.headers(response);
    return this.dashboard.queues().catch(unavailable);
  }

  @Get('api/connections')
  apiConnections(@Res({ passthrough: true }) response: unknown) {
    this.headers(response);
    return this.dashboard.connections();
  }

  @Get('api/dead-letters')
  apiDeadLetterQueues(@Res({ passthrough: true }) response: unknown) {
    this.headers(response);
    return this.dashboard.deadLetterQueues().catch(unavailable);
  }

  @Get('api/dead-letters/:queue')
  apiDeadLetters(@Res({ passthrough: true }) response: unknown, @Param('queue') queue: string, @Query() query: QueryParams): Promise<DeadLetterPage> {
    this.headers(response);
    this.assertDeadLetterQueue(queue);
    return this.browse(queue, query);
  }

  @Post('api/dead-letters/:queue/replay')
  @HttpCode(200)
  async apiReplay(
    @Req() request: Request,
    @Res({ passthrough: true }) response: unknown,
    @Param('queue') queue: string,
    @Body() body: unknown,
  ): Promise<DashboardReplayResult> {
    this.headers(response);
    this.assertMayAct(request);
    this.assertDeadLetterQueue(queue);
    const what = this.replayRequest(body);
    const result = await this.dashboard.replay(queue, what).catch(unavailable);
    if ('ids' in what && result.replayed === 0 && result.failed.length === 0 && result.missing.length === what.ids.length) {
      throw new NotFoundException(
        `${what.ids.length === 1 ? `Dead letter ${what.ids[0]} is` : 'None of these dead letters is'} no longer in '${queue}' (replayed or purged meanwhile); reload the list`,
      );
    }
    return result;
  }

  @Post('api/dead-letters/:queue/purge')
  @HttpCode(200)
  async apiPurge(
    @Req() request: Request,
    @Res({ passthrough: true }) response: unknown,
    @Param('queue') queue: string,
    @Body() body: unknown,
  ): Promise<{ purged: number }> {
    this.headers(response);
    this.assertMayAct(request);
    this.assertDeadLetterQueue(queue);
    const confirm = (body as { confirm?: unknown } | null)?.confirm;
    if (confirm !== queue) throw new BadRequestException(`To purge, send { "confirm": "<the queue name>" }: the name confirms which queue loses every message`);
    return { purged: await this.dashboard.purge(queue).catch(unavailable) };
  }

  @Get('api/outbox')
  apiOutbox(@Res({ passthrough: true }) response: unknown): Promise<OutboxHeldPage> {
    this.headers(response);
    this.assertOutbox();
    return this.dashboard.outboxHeld();
  }

  @Post('api/outbox/replay')
  @HttpCode(200)
  async apiOutboxReplay(@Req() request: Request, @Res({ passthrough: true }) response: unknown, @Body() body: unknown): Promise<DashboardReplayResult> {
    this.headers(response);
    this.assertMayAct(request);
    this.assertOutbox();
    const input = (body ?? {}) as { ids?: unknown; all?: unknown };
    let what: { ids: string[] } | { all: true };
    if (input.ids !== undefined && input.all === undefined) {
      const ids = input.ids;
      if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_IDS || ids.some((id) => typeof id !== 'string' || !/^\d{1,19}$/.test(id))) {
        throw new BadRequestException(`ids must be a list of 1 to ${MAX_IDS} outbox row ids (strings of digits)`);
      }
      what = { ids: [...new Set(ids as string[])] };
    } else if (input.all === true && input.ids === undefined) {
      what = { all: true };
    } else {
      throw new BadRequestException('Send either { "ids": [...] } to replay those outbox rows, or { "all": true } for every held row');
    }
    const result = await this.dashboard.outboxReplay(what);
    if ('ids' in what && result.replayed === 0 && result.missing.length === what.ids.length) {
      throw new NotFoundException(
        `${what.ids.length === 1 ? `Outbox row ${what.ids[0]} is` : 'None of these outbox rows is'} no longer held (replayed meanwhile); reload the list`,
      );
    }
    return result;
  }

  // ---- helpers ----

  /**
   * Where the dashboard is mounted as the browser sees it: the configured path, behind whatever
   * the host puts in front of it (a global prefix such as `/api`), read from the request's path.
   */
  private baseOf(request: Request): string {
    const path = this.dashboard.options.path === '/' ? '' : this.dashboard.options.path;
    const pathname = (request.originalUrl ?? request.url ?? '').split('?')[0];
    const at = pathname.indexOf(`${path}/`);
    if (pathname.endsWith(path) && path !== '') return pathname;
    return at >= 0 ? pathname.slice(0, at + path.length) : path;
  }

  /**
   * A whole page, or with `?part=<name>` only the inner HTML of its live region (what the page script
   * fetches to refresh it in place).
   */
  private page(request: Request, response: unknown, query: QueryParams, current: PageName, title: string, body: { name?: string; content: Html }): string {
    this.headers(response, 'text/html; charset=utf-8');
    if (query.part !== undefined) {
      if (body.name === undefined || query.part !== body.name) throw new NotFoundException(`This page has no part '${String(query.part).slice(0, MAX_TEXT)}'`);
      return body.content.text;
    }
    const base = this.baseOf(request);
    let token = csrfCookie(request);
    if (!token) {
      token = newCsrfToken();
      const secure = request.secure === true || request.protocol === 'https';
      this.adapterHost.httpAdapter.setHeader(response, 'Set-Cookie', csrfSetCookie(token, base || '/', secure));
    }
    const context: PageContext = {
      base,
      csrfToken: token,
      readOnly: this.dashboard.options.readOnly,
      refreshMs: this.dashboard.options.refreshMs,
      outbox: this.dashboard.hasOutbox,
    };
    return layout(context, current, title, body.name === undefined ? body.content : live(body.name, body.content)).text;
  }

  private headers(response: unknown, contentType = 'application/json; charset=utf-8'): void {
    const adapter = this.adapterHost.httpAdapter;
    adapter.setHeader(response, 'Content-Type', contentType);
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) adapter.setHeader(response, name, value);
  }

  private assertDeadLetterQueue(queue: string): void {
    if (!this.dashboard.isDeadLetterQueue(queue)) {
      throw new NotFoundException(`'${queue.slice(0, MAX_TEXT)}' is not a dead-letter queue of this dashboard: see its dead-letters page for those it shows`);
    }
  }

  private assertOutbox(): void {
    if (!this.dashboard.hasOutbox) throw new NotFoundException('This dashboard has no outbox: pass outbox: OutboxRelay to WarrenDashboardModule.forRoot()');
  }

  private assertMayAct(request: Request): void {
    if (this.dashboard.options.readOnly) throw new ForbiddenException('The dashboard is read-only: replay and purge are turned off');
    const problem = csrfProblem(request);
    if (problem) throw new ForbiddenException(`Refused: ${problem}`);
  }

  private replayRequest(body: unknown): { ids: string[] } | { filter: DeadLetterFilter } {
    const input = (body ?? {}) as { ids?: unknown; all?: unknown; filter?: unknown };
    if (input.ids !== undefined && input.all === undefined) {
      const ids = input.ids;
      if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_IDS || ids.some((id) => typeof id !== 'string' || id === '' || id.length > 256)) {
        throw new BadRequestException(`ids must be a list of 1 to ${MAX_IDS} dead-letter ids (strings of at most 256 characters)`);
      }
      return { ids: [...new Set(ids as string[])] };
    }
    if (input.all === true && input.ids === undefined) {
      const filter = input.filter ?? {};
      if (typeof filter !== 'object' || filter === null || Array.isArray(filter))
        throw new BadRequestException('filter must be an object { error?, handler? }');
      return { filter: filterOf(filter as QueryParams) };
    }
    throw new BadRequestException(
      'Send either { "ids": [...] } to replay those dead letters, or { "all": true, "filter": { "error"?, "handler"? } } for every match',
    );
  }

  private browse(queue: string, query: QueryParams): Promise<DeadLetterPage> {
    return this.dashboard.browse(queue, filterOf(query), pageNumber(query)).catch(unavailable);
  }

  private async count(queue: string): Promise<number | null> {
    const rows = await this.dashboard.deadLetterQueues().catch(unavailable);
    return rows.find((row) => row.queue === queue)?.messages ?? null;
  }
}
