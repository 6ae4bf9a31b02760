import { randomBytes, timingSafeEqual } from 'node:crypto';

/** The cookie holding the CSRF token; its twin travels in the `X-Warren-CSRF` header of every action. */
export const CSRF_COOKIE = 'warren_csrf';
export const CSRF_HEADER = 'x-warren-csrf';

/** The request fields the CSRF check reads, whatever the HTTP adapter. */
export interface CsrfRequest {
  headers: Record<string, string | string[] | undefined>;
}

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export function newCsrfToken(): string {
  return randomBytes(32).toString('base64url');
}

function header(request: CsrfRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The token in the request's cookie, when it has a well-formed one. */
export function csrfCookie(request: CsrfRequest): string | undefined {
  const cookies = header(request, 'cookie') ?? '';
  for (const part of cookies.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === CSRF_COOKIE) {
      const value = rest.join('=');
      return TOKEN.test(value) ? value : undefined;
    }
  }
  return undefined;
}

export function csrfSetCookie(token: string, path: string, secure: boolean): string {
  return `${CSRF_COOKIE}=${token}; Path=${path}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/**
 * Why an action request fails the CSRF check, or undefined when it passes. Double submit: the
 * `X-Warren-CSRF` header must equal the HttpOnly, SameSite=Strict cookie set with the page (a custom
 * header cannot be sent cross-origin without a CORS preflight the dashboard never grants). On top, a
 * browser's `Origin` must be this host and `Sec-Fetch-Site`, when sent, must be `same-origin`.
 */
export function csrfProblem(request: CsrfRequest): string | undefined {
  const cookie = csrfCookie(request);
  const sent = header(request, CSRF_HEADER);
  if (!cookie || !sent || sent.length !== cookie.length || !timingSafeEqual(Buffer.from(sent), Buffer.from(cookie))) {
    return 'the CSRF token is missing or wrong: reload the dashboard page and try again';
  }
  const fetchSite = header(request, 'sec-fetch-site');
  if (fetchSite !== undefined && fetchSite !== 'same-origin') return `a ${fetchSite} request cannot act on the dashboard`;
  const origin = header(request, 'origin');
  if (origin !== undefined) {
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch {
      host = undefined;
    }
    const expected = [header(request, 'host'), header(request, 'x-forwarded-host')];
    if (host === undefined || !expected.includes(host)) return `requests from ${origin} cannot act on the dashboard`;
  }
  return undefined;
}
