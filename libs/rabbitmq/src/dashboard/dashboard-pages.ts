import type { DeadLetterPage, DeadLetterSummary } from './dead-letter-browser';
import { html, type Html } from './dashboard-html';
import { WAITING_SHOWN, type ConnectionRow, type DeadLetterQueueRow, type HandlerRow, type OutboxHeldPage, type QueueRow } from './dashboard.service';

export type PageName = 'handlers' | 'queues' | 'dead-letters' | 'outbox' | 'connections';

export interface PageContext {
  /** The mount path, e.g. '/warren'. */
  base: string;
  csrfToken: string;
  readOnly: boolean;
  refreshMs: number;
  /** Shows the Outbox page in the navigation (an outbox is configured). */
  outbox: boolean;
}

const PAGES: ReadonlyArray<[PageName, string]> = [
  ['handlers', 'Handlers'],
  ['queues', 'Queues'],
  ['dead-letters', 'Dead letters'],
  ['outbox', 'Outbox'],
  ['connections', 'Connections'],
];

/** A whole page: header, navigation, and `body` (whose live parts refresh themselves). */
export function layout(context: PageContext, current: PageName, title: string, body: Html): Html {
  const { base } = context;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="warren-csrf" content="${context.csrfToken}" />
        <meta name="warren-refresh" content="${context.refreshMs}" />
        <title>${title} · Warren</title>
        <link rel="stylesheet" href="${base}/assets/dashboard.css" />
        <script src="${base}/assets/dashboard.js" defer></script>
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header class="top">
          <span class="brand">Warren</span>
          <nav aria-label="Dashboard">
            <ul>
              ${PAGES.filter(([name]) => name !== 'outbox' || context.outbox).map(([name, label]) => html`<li><a href="${base}/${name}" ${name === current ? html` aria-current="page"` : ''}>${label}</a></li>`)}
            </ul>
          </nav>
          ${context.refreshMs > 0 ? html`<label class="live"><input type="checkbox" id="live-toggle" checked /> Live refresh</label>` : ''}
          ${context.readOnly ? html`<span class="badge" title="Replay and purge are turned off">Read-only</span>` : ''}
        </header>
        <main id="main" tabindex="-1">
          <h1>${title}</h1>
          ${body}
        </main>
      </body>
    </html> `;
}

/** A region the page script refreshes by fetching the same URL with `part=<name>`. */
export function live(name: string, content: Html): Html {
  return html`<div id="live-${name}" data-live="${name}">${content}</div>`;
}

const num = (value: number | null | undefined): string => (value === null || value === undefined ? '—' : String(value));
const ms = (value: number | undefined): string => (value === undefined ? '—' : value < 10 ? `${value.toFixed(2)} ms` : `${Math.round(value)} ms`);
const rate = (value: number | undefined): string => (value === undefined || value === 0 ? '0' : value < 0.1 ? value.toPrecision(2) : value.toFixed(1));
/** An ISO timestamp, shown as `YYYY-MM-DD HH:MM:SS` (UTC) with the exact value in `datetime`. */
const time = (iso: string | undefined): Html | string =>
  iso === undefined ? '—' : html`<time datetime="${iso}" title="${iso}">${iso.replace('T', ' ').replace(/(\.\d+)?Z$/, '')}</time>`;
const queueLink = (base: string, queue: string): string => `${base}/dead-letters/${encodeURIComponent(queue)}`;

export function handlersTable(base: string, rows: HandlerRow[], timed: boolean): Html {
  if (rows.length === 0) return html`<p class="empty">No handlers in this process. Queues and dead letters of other services are on the other pages.</p>`;
  return html`<div class="scroll" tabindex="0" role="region" aria-label="Handlers table">
    <table>
      <caption class="sr-only">
        Handlers and their counts since start${timed ? '; rates over the last minute' : ''}
      </caption>
      <thead>
        <tr>
          <th scope="col">Handler</th>
          <th scope="col">Queue</th>
          <th scope="col">Bindings</th>
          <th scope="col">State</th>
          <th scope="col" class="n">In flight</th>
          <th scope="col" class="n">Handled</th>
          <th scope="col" class="n">Failed</th>
          <th scope="col" class="n">Retried</th>
          <th scope="col" class="n">Dead-lettered</th>
          <th scope="col" class="n">Duplicates</th>
          ${
            timed
              ? html`<th scope="col" class="n">Rate</th>
                  <th scope="col" class="n">p50 / p99</th>`
              : ''
          }
          <th scope="col">Dead letters</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map((row) => {
          const r = row.timings?.ratePerSecond ?? {};
          const failedRate =
            (r['dead-lettered'] ?? 0) + (r.retried ?? 0) + (r.rejected ?? 0) + (r.requeued ?? 0) + (r.dropped ?? 0) + (r['replied-error'] ?? 0);
          return html`<tr data-handler="${row.name}">
            <th scope="row">${row.name}<span class="sub">${row.kind}${row.connection !== 'default' ? ` · ${row.connection}` : ''}</span></th>
            <td>${row.queue || '(server-named)'}</td>
            <td>
              ${row.bindings.length === 0 ? '—' : row.bindings.map((b) => html`<span class="route">${b.exchange || '(default)'} → ${b.routingKey || '(any)'}</span>`)}
            </td>
            <td><span class="state state-${row.state}">${row.state}</span></td>
            <td class="n nowrap">${row.inFlight}<span class="sub">prefetch ${row.prefetch === 0 ? '∞' : row.prefetch}</span></td>
            <td class="n" data-stat="handled">${row.stats.handled}</td>
            <td class="n" data-stat="failed">${row.stats.failed}</td>
            <td class="n" data-stat="retried">${row.stats.retried}</td>
            <td class="n" data-stat="deadLettered">${row.stats.deadLettered}</td>
            <td class="n" data-stat="duplicates">${row.stats.duplicates}</td>
            ${
              timed
                ? html`<td class="n nowrap">${rate(r.acked)}/s${failedRate > 0 ? html`<span class="sub warn">${rate(failedRate)}/s failing</span>` : ''}</td>
                    <td class="n nowrap">${ms(row.timings?.p50Ms)} / ${ms(row.timings?.p99Ms)}</td>`
                : ''
            }
            <td>${row.deadLetterQueue ? html`<a href="${queueLink(base, row.deadLetterQueue)}">${row.deadLetterQueue}</a>` : '—'}</td>
          </tr>`;
        })}
      </tbody>
    </table>
  </div>`;
}

export function queuesTables(base: string, rows: QueueRow[]): Html {
  if (rows.length === 0) return html`<p class="empty">No queues: this process has no handlers and no queues are configured.</p>`;
  const waiting = rows.filter((row) => row.waiting && row.waiting.length > 0);
  return html`<div class="scroll" tabindex="0" role="region" aria-label="Queues table">
      <table>
        <caption class="sr-only">
          Queues: ready messages and consumers from the broker, in flight in this process
        </caption>
        <thead>
          <tr>
            <th scope="col">Queue</th>
            <th scope="col">Role</th>
            <th scope="col">Handlers</th>
            <th scope="col" class="n">Ready</th>
            <th scope="col" class="n">Consumers</th>
            <th scope="col" class="n">Unacked here</th>
            <th scope="col" class="n">Wait</th>
          </tr>
        </thead>
        <tbody>
          ${rows.map(
            (row) =>
              html`<tr data-queue="${row.queue}">
                <th scope="row">
                  ${row.role === 'dead-letter' ? html`<a href="${queueLink(base, row.queue)}">${row.queue}</a>` : row.queue}${row.missing ? html`<span class="sub warn">not declared</span>` : ''}
                </th>
                <td>${row.role}</td>
                <td>${row.handlers.join(', ') || '—'}</td>
                <td class="n" data-stat="messages">${num(row.messages)}</td>
                <td class="n">${num(row.consumers)}</td>
                <td class="n">${row.inFlight}</td>
                <td class="n">${row.delayMs === undefined ? '—' : ms(row.delayMs)}</td>
              </tr>`,
          )}
        </tbody>
      </table>
    </div>
    <h2>Waiting for a retry</h2>
    ${
      waiting.length === 0
        ? html`<p class="empty">Nothing waits in a retry wait queue.</p>`
        : html`<div class="scroll" tabindex="0" role="region" aria-label="Waiting messages table">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Wait queue</th>
                    <th scope="col">Message</th>
                    <th scope="col">Returns to</th>
                    <th scope="col">Due</th>
                    <th scope="col" class="n">Attempt</th>
                    <th scope="col">Last error</th>
                  </tr>
                </thead>
                <tbody>
                  ${waiting.flatMap((row) =>
                    row.waiting!.map(
                      (message) =>
                        html`<tr>
                          <td>${row.queue}<span class="sub">waits ${ms(row.delayMs)}</span></td>
                          <td><code>${message.messageId ?? '—'}</code></td>
                          <td>${message.returnsTo ?? '—'}</td>
                          <td class="nowrap" data-due="${message.dueAt ?? ''}">${time(message.dueAt)}</td>
                          <td class="n">${num(message.attempt)}</td>
                          <td class="err">${message.lastError ?? '—'}</td>
                        </tr>`,
                    ),
                  )}
                </tbody>
              </table>
            </div>
            <p class="hint">The first ${WAITING_SHOWN} messages of each wait queue.</p>`
    }`;
}

export function connectionsTable(rows: ConnectionRow[]): Html {
  return html`<div class="scroll" tabindex="0" role="region" aria-label="Connections table">
    <table>
      <thead>
        <tr>
          <th scope="col">Connection</th>
          <th scope="col">Status</th>
          <th scope="col">Since</th>
          <th scope="col" class="n">Channels open / all</th>
          <th scope="col" class="n">Reconnects</th>
          <th scope="col">Brokers</th>
          <th scope="col">Topology errors</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          (row) =>
            html`<tr data-connection="${row.name}">
              <th scope="row">${row.name}</th>
              <td>
                <span class="state state-${row.status}">${row.status}</span>${row.blockedReason ? html`<span class="sub warn">${row.blockedReason}</span>` : ''}
              </td>
              <td class="nowrap">${time(row.since)}</td>
              <td class="n">${row.channels.open} / ${row.channels.total}</td>
              <td class="n">${row.reconnects}</td>
              <td>${row.brokers.map((broker) => html`<code>${broker}</code> `)}</td>
              <td class="err">${row.topologyErrors.length === 0 ? '—' : row.topologyErrors.map((error) => html`<div>${error}</div>`)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

export function deadLetterQueuesTable(base: string, rows: DeadLetterQueueRow[]): Html {
  if (rows.length === 0) return html`<p class="empty">No dead-letter queues: no handler of this app has one, and none is configured (deadLetterQueues).</p>`;
  return html`<table>
    <thead>
      <tr>
        <th scope="col">Dead-letter queue</th>
        <th scope="col">Handlers</th>
        <th scope="col" class="n">Messages</th>
      </tr>
    </thead>
    <tbody>
      ${rows.map(
        (row) =>
          html`<tr data-queue="${row.queue}">
            <th scope="row"><a href="${queueLink(base, row.queue)}">${row.queue}</a>${row.missing ? html`<span class="sub warn">not declared</span>` : ''}</th>
            <td>${row.handlers.join(', ') || '—'}</td>
            <td class="n" data-stat="messages">${num(row.messages)}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

export function deadLetterSummary(queue: string, messages: number | null): Html {
  return html`<p class="summary"><strong data-stat="messages">${num(messages)}</strong> message${messages === 1 ? '' : 's'} in <code>${queue}</code> now.</p>`;
}

function pageHref(base: string, page: DeadLetterPage, to: number): string {
  const params = new URLSearchParams();
  if (page.filter.error) params.set('error', page.filter.error);
  if (page.filter.handler) params.set('handler', page.filter.handler);
  params.set('page', String(to));
  return `${queueLink(base, page.queue)}?${params.toString()}`;
}

function letterRow(letter: DeadLetterSummary, readOnly: boolean, index: number): Html {
  const { reason, preview } = letter;
  const route = [reason.exchange || '(default)', reason.routingKey ?? '—'].join(' → ');
  const checkbox = `select-${index}`;
  return html`<tr data-id="${letter.id}">
    ${readOnly ? '' : html`<td><input type="checkbox" id="${checkbox}" name="id" value="${letter.id}" /><label for="${checkbox}" class="sr-only">Select ${letter.id}</label></td>`}
    <td><code class="id">${letter.id}</code></td>
    <td class="err">
      <strong>${reason.errorName}</strong>${reason.errorCode ? html` <span class="sub">${reason.errorCode}</span>` : ''}
      <div class="reason">${reason.errorMessage}</div>
      ${
        reason.errorStack
          ? html`<details>
              <summary>Stack</summary>
              <pre>${reason.errorStack}</pre>
            </details>`
          : ''
      }
    </td>
    <td>${reason.handler ?? '—'}</td>
    <td class="n">${reason.attempts}</td>
    <td class="nowrap">
      ${
        reason.firstFailureAt && reason.firstFailureAt !== reason.lastFailureAt
          ? html`<span class="sub">first</span> ${time(reason.firstFailureAt)}<span class="sub">last</span> ${time(reason.lastFailureAt)}`
          : time(reason.lastFailureAt ?? reason.firstFailureAt)
      }
    </td>
    <td>${route}<br /><span class="sub">queue</span> ${reason.queue ?? '—'}</td>
    <td>
      <details>
        <summary>${preview.kind} · ${preview.bytes} B${preview.masked > 0 ? ` · ${preview.masked} masked` : ''}</summary>
        ${
          preview.note ? html`<p class="hint">${preview.note}</p>` : ''
        }${preview.text ? html`<pre class="payload">${preview.text}</pre>` : ''}${preview.cut > 0 ? html`<p class="hint">… ${preview.cut} more bytes not shown</p>` : ''}
      </details>
    </td>
    ${readOnly ? '' : html`<td><button type="button" data-action="replay-one" data-id="${letter.id}" aria-label="Replay ${letter.id}">Replay</button></td>`}
  </tr>`;
}

/** The paged, filtered list with its actions. */
export function deadLetterList(base: string, page: DeadLetterPage, readOnly: boolean): Html {
  const from = page.matched === 0 ? 0 : (page.page - 1) * page.pageSize + 1;
  const to = Math.min(page.matched, page.page * page.pageSize);
  const filtered = Boolean(page.filter.error || page.filter.handler);
  return html`<p class="counts" data-matched="${page.matched}">
      Showing ${from}–${to} of <strong>${page.matched}</strong> ${filtered ? 'matching' : ''} dead
      letter${page.matched === 1 ? '' : 's'}${
        page.scanned < page.total ? html` <span class="warn">(looked at the first ${page.scanned} of ${page.total}; raise scanLimit to see further)</span>` : ''
      }.
    </p>
    ${
      page.items.length === 0
        ? html`<p class="empty">${filtered ? 'No dead letter matches the filter.' : 'The dead-letter queue is empty.'}</p>`
        : html`<div class="scroll" tabindex="0" role="region" aria-label="Dead letters table">
            <table class="letters">
              <thead>
                <tr>
                  ${readOnly ? '' : html`<th scope="col"><span class="sr-only">Select</span></th>`}
                  <th scope="col">Message</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Handler</th>
                  <th scope="col" class="n">Attempts</th>
                  <th scope="col">Failures</th>
                  <th scope="col">Original route</th>
                  <th scope="col">Payload</th>
                  ${readOnly ? '' : html`<th scope="col"><span class="sr-only">Actions</span></th>`}
                </tr>
              </thead>
              <tbody>
                ${page.items.map((letter, index) => letterRow(letter, readOnly, index))}
              </tbody>
            </table>
          </div>`
    }
    ${
      readOnly || page.matched === 0
        ? ''
        : html`<div class="actions">
            <button type="button" data-action="replay-selected">Replay selected</button>
            <button type="button" data-action="replay-matching" data-count="${page.matched}">Replay all ${page.matched} ${filtered ? 'matching' : ''}</button>
          </div>`
    }
    ${
      page.pages > 1
        ? html`<nav aria-label="Pages" class="pager">
            ${page.page > 1 ? html`<a href="${pageHref(base, page, page.page - 1)}" rel="prev">Previous</a>` : ''}<span>Page ${page.page} of ${page.pages}</span
            >${page.page < page.pages ? html`<a href="${pageHref(base, page, page.page + 1)}" rel="next">Next</a>` : ''}
          </nav>`
        : ''
    }`;
}

export function deadLetterQueuePage(base: string, page: DeadLetterPage, messages: number | null, readOnly: boolean): Html {
  const suggestions = (id: string, values: string[]): Html =>
    html`<datalist id="${id}">${values.map((value) => html`<option value="${value}"></option>`)}</datalist>`;
  return html`<p><a href="${base}/dead-letters">All dead-letter queues</a></p>
    ${live('summary', deadLetterSummary(page.queue, messages))}
    <form method="get" class="filter" role="search" aria-label="Filter dead letters">
      <div>
        <label for="filter-error">Error contains</label
        ><input id="filter-error" name="error" list="filter-errors" value="${page.filter.error ?? ''}" maxlength="200" />
      </div>
      <div>
        <label for="filter-handler">Handler contains</label
        ><input id="filter-handler" name="handler" list="filter-handlers" value="${page.filter.handler ?? ''}" maxlength="200" />
      </div>
      ${suggestions('filter-errors', page.errors)}${suggestions('filter-handlers', page.handlers)}
      <button type="submit">Filter</button>
      <a href="${queueLink(base, page.queue)}">Clear</a>
    </form>
    <div id="notice" role="status" aria-live="polite" tabindex="-1"></div>
    <div id="letters" data-queue="${page.queue}" data-filter-error="${page.filter.error ?? ''}" data-filter-handler="${page.filter.handler ?? ''}">
      ${deadLetterList(base, page, readOnly)}
    </div>
    ${
      readOnly
        ? ''
        : html`<section class="danger" aria-labelledby="purge-title">
            <h2 id="purge-title">Purge</h2>
            <p>Deletes every message of <code>${page.queue}</code>, matching or not. It cannot be undone.</p>
            <button type="button" data-action="purge-open" aria-expanded="false" aria-controls="purge-confirm">Purge queue…</button>
            <div id="purge-confirm" hidden>
              <label for="purge-name">Type the queue name, <code>${page.queue}</code>, to confirm</label>
              <input id="purge-name" autocomplete="off" spellcheck="false" />
              <button type="button" data-action="purge-confirm" class="danger-button">Purge</button>
              <button type="button" data-action="purge-cancel">Cancel</button>
            </div>
          </section>`
    }`;
}

export function errorPage(status: number, title: string, message: string): Html {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${status} ${title} · Warren</title>
      </head>
      <body>
        <main id="main">
          <h1>${status} ${title}</h1>
          <p>${message}</p>
        </main>
      </body>
    </html> `;
}

/** The held rows of the outbox with their actions (the part the page script reloads after a replay). */
export function outboxList(page: OutboxHeldPage, readOnly: boolean): Html {
  return html`<p class="counts" data-held="${page.rows.length}">
      <strong>${page.rows.length}${page.more ? '+' : ''}</strong> held row${page.rows.length === 1 ? '' : 's'} in <code>${page.table}</code>${
        page.more ? html` <span class="warn">(the oldest ${page.rows.length} shown; raise pageSize to see more)</span>` : ''
      }.
    </p>
    ${
      page.rows.length === 0
        ? html`<p class="empty">No parked or failed rows: every committed message was published or is on its way.</p>`
        : html`<div class="scroll" tabindex="0" role="region" aria-label="Held outbox rows table">
            <table class="letters">
              <thead>
                <tr>
                  ${readOnly ? '' : html`<th scope="col"><span class="sr-only">Select</span></th>`}
                  <th scope="col">Row</th>
                  <th scope="col">Status</th>
                  <th scope="col">Reason</th>
                  <th scope="col" class="n">Attempts</th>
                  <th scope="col">Written</th>
                  <th scope="col">Route</th>
                  <th scope="col">Payload</th>
                  ${readOnly ? '' : html`<th scope="col"><span class="sr-only">Actions</span></th>`}
                </tr>
              </thead>
              <tbody>
                ${page.rows.map(
                  (row, index) =>
                    html`<tr data-row="${row.id}">
                      ${
                        readOnly ? '' : html`<td><input type="checkbox" name="id" value="${row.id}" id="row-${index}" aria-label="Select row ${row.id}" /></td>`
                      }
                      <th scope="row">${row.id}<span class="sub">${row.messageId}</span></th>
                      <td><span class="state state-${row.status}">${row.status}</span></td>
                      <td><strong>${row.errorCode ?? '—'}</strong><br /><span class="sub">${row.errorMessage ?? ''}</span></td>
                      <td class="n">${row.attempts}</td>
                      <td class="nowrap">${time(row.createdAt)}</td>
                      <td><span class="route">${row.exchange || '(default)'} → ${row.routingKey}</span></td>
                      <td>
                        <details>
                          <summary>${row.preview.kind} · ${row.preview.bytes} B${row.preview.masked > 0 ? ` · ${row.preview.masked} masked` : ''}</summary>
                          ${row.preview.note ? html`<p class="hint">${row.preview.note}</p>` : ''}${
                            row.preview.text ? html`<pre class="payload">${row.preview.text}</pre>` : ''
                          }${row.preview.cut > 0 ? html`<p class="hint">… ${row.preview.cut} more bytes not shown</p>` : ''}
                        </details>
                      </td>
                      ${readOnly ? '' : html`<td><button type="button" data-action="replay-one" data-id="${row.id}" aria-label="Replay row ${row.id}">Replay</button></td>`}
                    </tr>`,
                )}
              </tbody>
            </table>
          </div>`
    }
    ${
      readOnly || page.rows.length === 0
        ? ''
        : html`<div class="actions">
            <button type="button" data-action="replay-selected">Replay selected</button>
            <button type="button" data-action="replay-matching">Replay all held rows</button>
          </div>`
    }`;
}

/**
 * The Outbox page: rows of the transactional outbox the relay parked (unroutable) or marked failed
 * (refused by the broker or the encoder), with replay. A replayed row goes back to pending with
 * its message id; the relay publishes it again.
 */
export function outboxPage(base: string, page: OutboxHeldPage, readOnly: boolean): Html {
  return html`<p>
      Rows of the transactional outbox the relay could not deliver: <em>parked</em> when no queue took the message, <em>failed</em> when the broker or the
      encoder refused it. They stay until replayed. Bind a queue or fix the cause first.
    </p>
    <div id="notice" role="status" aria-live="polite" tabindex="-1"></div>
    <div id="letters" data-api="${base}/api/outbox">${outboxList(page, readOnly)}</div>`;
}
