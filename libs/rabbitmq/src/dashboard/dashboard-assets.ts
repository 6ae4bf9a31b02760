/** The dashboard's stylesheet: system fonts, contrast of at least 4.5:1 for text, a visible focus ring. */
export const DASHBOARD_CSS = `
:root { color-scheme: light; --fg: #1b1f24; --muted: #4a5360; --bg: #ffffff; --panel: #f4f6f8; --line: #c9d1d9; --accent: #0b57d0; --warn: #8a4b00; --bad: #a4161a; --ok: #0f6b2f; --top: #14213d; --focus: #1b1f24; --focus-on-dark: #ffd166; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.top :focus-visible { outline-color: var(--focus-on-dark); }
.skip { position: absolute; left: -999px; top: 0; background: var(--fg); color: #fff; padding: 8px 12px; z-index: 10; }
.skip:focus { left: 8px; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.top { display: flex; flex-wrap: wrap; gap: 16px; align-items: center; padding: 10px 20px; background: var(--top); color: #fff; }
.top a { color: #fff; text-decoration: none; padding: 6px 10px; border-radius: 4px; }
.top a[aria-current="page"] { background: #fff; color: var(--top); font-weight: 600; }
.top a:hover { text-decoration: underline; }
.brand { font-weight: 700; font-size: 18px; letter-spacing: .02em; }
.top ul { display: flex; gap: 4px; list-style: none; margin: 0; padding: 0; flex-wrap: wrap; }
.live { margin-left: auto; display: flex; gap: 6px; align-items: center; }
.badge { background: #ffd166; color: #1b1f24; padding: 2px 8px; border-radius: 10px; font-weight: 600; }
main { padding: 16px 20px 40px; }
main:focus { outline: none; }
h1 { font-size: 24px; margin: 4px 0 12px; }
h2 { font-size: 18px; margin: 24px 0 8px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; background: var(--bg); }
.nowrap { white-space: nowrap; }
td a, th a { overflow-wrap: anywhere; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid var(--line); }
thead th { background: var(--panel); font-size: 13px; color: var(--muted); white-space: nowrap; }
tbody th { font-weight: 600; }
.n { text-align: right; font-variant-numeric: tabular-nums; }
.sub { display: block; font-size: 12px; font-weight: 400; color: var(--muted); }
.warn { color: var(--warn); }
.err { color: var(--bad); max-width: 32em; overflow-wrap: anywhere; }
.reason { color: var(--fg); }
.route { display: block; white-space: nowrap; }
.state { padding: 1px 6px; border-radius: 4px; border: 1px solid currentColor; font-size: 13px; }
.state-consuming, .state-connected { color: var(--ok); }
.state-cancelled, .state-waiting, .state-blocked, .state-connecting, .state-parked { color: var(--warn); }
.state-disconnected, .state-closed, .state-failed { color: var(--bad); }
.empty, .hint { color: var(--muted); }
code { font: 13px/1.3 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow-wrap: anywhere; }
pre { font: 12px/1.35 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--panel); padding: 8px; min-width: 24em; max-width: 48em; max-height: 24em; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
details summary { cursor: pointer; color: var(--accent); }
.filter { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-end; margin: 12px 0; padding: 12px; background: var(--panel); border-radius: 6px; }
.filter label { display: block; font-size: 13px; font-weight: 600; margin-bottom: 2px; }
input[type="text"], input:not([type]) { font: inherit; padding: 5px 8px; border: 1px solid #6b7480; border-radius: 4px; min-width: 16em; }
button { font: inherit; padding: 5px 12px; border: 1px solid var(--accent); background: var(--accent); color: #fff; border-radius: 4px; cursor: pointer; }
button:hover { background: #0842a0; }
button[disabled] { opacity: .6; cursor: wait; }
.actions { display: flex; gap: 8px; margin: 12px 0; }
.pager { display: flex; gap: 16px; align-items: center; margin: 12px 0; }
.danger { margin-top: 32px; padding: 12px; border: 1px solid var(--bad); border-radius: 6px; }
.danger button, .danger-button { background: var(--bad); border-color: var(--bad); }
#purge-confirm { margin-top: 8px; display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
#purge-confirm[hidden] { display: none; }
#notice:not(:empty) { margin: 12px 0; padding: 8px 12px; border-left: 4px solid var(--accent); background: var(--panel); }
#notice.failed { border-left-color: var(--bad); }
.summary { font-size: 16px; }
`;

/**
 * The page script: live refresh of the `data-live` regions (the same URL with `part=<name>`, server-rendered
 * and escaped), and the dead-letter actions, sent as JSON with the CSRF token in `X-Warren-CSRF`.
 */
export const DASHBOARD_JS = `
(function () {
  'use strict';
  var meta = function (name) { var el = document.querySelector('meta[name="' + name + '"]'); return el ? el.getAttribute('content') : ''; };
  var csrf = meta('warren-csrf');
  var refreshMs = Number(meta('warren-refresh')) || 0;
  var toggle = document.getElementById('live-toggle');

  function partUrl(name) {
    var url = new URL(window.location.href);
    url.searchParams.set('part', name);
    return url.toString();
  }

  function refresh() {
    if (document.hidden || (toggle && !toggle.checked)) return;
    document.querySelectorAll('[data-live]').forEach(function (region) {
      // Never pull the content from under the keyboard focus: that region waits for the next tick.
      if (region.contains(document.activeElement)) return;
      fetch(partUrl(region.getAttribute('data-live')), { headers: { Accept: 'text/html' }, credentials: 'same-origin' })
        .then(function (res) { return res.ok ? res.text() : null; })
        .then(function (text) { if (text !== null && text !== region.innerHTML) region.innerHTML = text; })
        .catch(function () { /* the next tick tries again */ });
    });
  }
  if (refreshMs > 0) window.setInterval(refresh, refreshMs);

  var letters = document.getElementById('letters');
  if (!letters) return;
  var queue = letters.getAttribute('data-queue');
  var notice = document.getElementById('notice');
  // The outbox page names its API; a dead-letter queue's is derived from the page's path.
  var api = letters.getAttribute('data-api') || window.location.pathname.replace(/\\/dead-letters\\/[^/]*$/, '/api/dead-letters/' + encodeURIComponent(queue));

  function say(text, failed) {
    notice.textContent = text;
    notice.className = failed ? 'failed' : '';
    notice.focus();
  }

  function post(action, body) {
    return fetch(api + '/' + action, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-Warren-CSRF': csrf, Accept: 'application/json' },
      body: JSON.stringify(body),
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) throw new Error(data && data.message ? (Array.isArray(data.message) ? data.message.join('; ') : data.message) : 'HTTP ' + res.status);
        return data;
      });
    });
  }

  function reload() {
    return fetch(partUrl('list'), { headers: { Accept: 'text/html' }, credentials: 'same-origin' })
      .then(function (res) { return res.ok ? res.text() : Promise.reject(new Error('HTTP ' + res.status)); })
      .then(function (text) { letters.innerHTML = text; refresh(); });
  }

  function replayed(result) {
    var text = 'Replayed ' + result.replayed + ' message' + (result.replayed === 1 ? '' : 's') + '.';
    if (result.missing && result.missing.length) text += ' ' + result.missing.length + ' no longer ' + (queue ? 'in the queue.' : 'held.');
    if (result.failed && result.failed.length) text += ' ' + result.failed.length + ' could not be replayed: ' + result.failed.map(function (f) { return f.error; }).join('; ');
    return reload().then(function () { say(text, Boolean(result.failed && result.failed.length)); });
  }

  function run(button, work) {
    button.disabled = true;
    work().catch(function (error) { say(error.message, true); }).then(function () { button.disabled = false; });
  }

  document.addEventListener('click', function (event) {
    var button = event.target.closest ? event.target.closest('button[data-action]') : null;
    if (!button) return;
    var action = button.getAttribute('data-action');
    if (action === 'replay-one') {
      run(button, function () { return post('replay', { ids: [button.getAttribute('data-id')] }).then(replayed); });
    } else if (action === 'replay-selected') {
      var ids = Array.prototype.map.call(letters.querySelectorAll('input[name="id"]:checked'), function (box) { return box.value; });
      if (ids.length === 0) { say('Select one or more dead letters first.', true); return; }
      run(button, function () { return post('replay', { ids: ids }).then(replayed); });
    } else if (action === 'replay-matching') {
      var filter = { error: letters.getAttribute('data-filter-error') || undefined, handler: letters.getAttribute('data-filter-handler') || undefined };
      run(button, function () { return post('replay', { all: true, filter: filter }).then(replayed); });
    } else if (action === 'purge-open' || action === 'purge-cancel') {
      var panel = document.getElementById('purge-confirm');
      var opener = document.querySelector('[data-action="purge-open"]');
      var open = action === 'purge-open';
      panel.hidden = !open;
      opener.setAttribute('aria-expanded', String(open));
      if (open) document.getElementById('purge-name').focus(); else opener.focus();
    } else if (action === 'purge-confirm') {
      var typed = document.getElementById('purge-name').value;
      if (typed !== queue) { say('Type the queue name exactly to purge it.', true); return; }
      run(button, function () {
        return post('purge', { confirm: typed }).then(function (result) {
          document.getElementById('purge-confirm').hidden = true;
          document.getElementById('purge-name').value = '';
          return reload().then(function () { say('Purged ' + result.purged + ' message' + (result.purged === 1 ? '' : 's') + '.', false); });
        });
      });
    }
  });
})();
`;
