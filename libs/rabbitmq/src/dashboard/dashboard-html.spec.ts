import { csrfProblem } from './dashboard-csrf';
import { escapeHtml, html } from './dashboard-html';
import { connectionsTable } from './dashboard-pages';

describe('dashboard HTML', () => {
  it('escapes every interpolated value, in text and in attributes', () => {
    const evil = `<script>alert("x")</script>' onmouseover='x' \``;
    const out = html`<p title="${evil}">${evil}</p>`.text;
    expect(out).not.toContain('<script>');
    expect(out).not.toMatch(/["'`]\s*onmouseover/);
    expect(escapeHtml('&<>"\'`')).toBe('&#38;&#60;&#62;&#34;&#39;&#96;');
    expect(html`<div>${html`<b>${'<i>'}</b>`}</div>`.text).toBe('<div><b>&#60;i&#62;</b></div>');
  });
});

describe('csrfProblem', () => {
  const token = 'a'.repeat(43);
  const request = (headers: Record<string, string>) => ({ headers: { cookie: `warren_csrf=${token}`, host: 'ops.local:3000', ...headers } });

  it('passes a same-origin request whose header matches its cookie', () => {
    expect(csrfProblem(request({ 'x-warren-csrf': token, origin: 'http://ops.local:3000', 'sec-fetch-site': 'same-origin' }))).toBeUndefined();
  });

  it('refuses a missing or wrong token, another origin, and a cross-site fetch', () => {
    expect(csrfProblem(request({}))).toContain('CSRF token');
    expect(csrfProblem(request({ 'x-warren-csrf': 'b'.repeat(43) }))).toContain('CSRF token');
    expect(csrfProblem({ headers: { 'x-warren-csrf': token } })).toContain('CSRF token');
    expect(csrfProblem(request({ 'x-warren-csrf': token, origin: 'http://evil.example' }))).toContain('evil.example');
    expect(csrfProblem(request({ 'x-warren-csrf': token, origin: 'null' }))).toContain('null');
    expect(csrfProblem(request({ 'x-warren-csrf': token, 'sec-fetch-site': 'same-site' }))).toContain('same-site');
  });
});

describe('connections table', () => {
  it('shows a blocked connection with the broker reason', () => {
    const out = connectionsTable([
      {
        name: 'default',
        status: 'blocked',
        blockedReason: 'low on memory',
        since: '2026-01-02T03:04:05.678Z',
        reconnects: 2,
        channels: { open: 3, total: 4 },
        brokers: ['amqp://guest:***@127.0.0.1:5672'],
        topologyErrors: ['<b>PRECONDITION_FAILED</b>'],
      },
    ]).text;
    expect(out).toContain('<span class="state state-blocked">blocked</span>');
    expect(out).toContain('low on memory');
    expect(out).toContain('<time datetime="2026-01-02T03:04:05.678Z" title="2026-01-02T03:04:05.678Z">2026-01-02 03:04:05</time>');
    expect(out).toContain('&#60;b&#62;PRECONDITION_FAILED&#60;/b&#62;');
  });
});
