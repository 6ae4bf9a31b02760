/** The answer of one HTTP call. */
export interface ApiResponse<T> {
  status: number;
  body: T;
}

/** A minimal JSON client for the orders API (Node's fetch). */
export class ApiClient {
  constructor(readonly baseUrl: string) {}

  get<T>(path: string): Promise<ApiResponse<T>> {
    return this.call<T>('GET', path);
  }

  post<T>(path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse<T>> {
    return this.call<T>('POST', path, body, headers);
  }

  patch<T>(path: string, body: unknown): Promise<ApiResponse<T>> {
    return this.call<T>('PATCH', path, body);
  }

  private async call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
  }
}
