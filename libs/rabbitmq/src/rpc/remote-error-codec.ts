import type { RemoteErrorPayload } from '../errors/rpc-remote.error';

/**
 * Turns what an RPC handler threw into the reply body the caller's RpcRemoteError
 * is built from. Nest's `RpcException` (getError()) and HttpException
 * (getResponse()/getStatus()) keep their payloads; a stack never leaves the server.
 */
export function encodeRemoteError(error: unknown): RemoteErrorPayload {
  if (error instanceof Error) {
    const e = error as Error & { code?: unknown; data?: unknown; getError?: () => unknown; getResponse?: () => unknown; getStatus?: () => unknown };
    const payload: RemoteErrorPayload = { name: e.name, message: e.message };
    if (typeof e.code === 'string' || typeof e.code === 'number') payload.code = e.code;
    if (e.data !== undefined) payload.data = e.data;
    else if (typeof e.getError === 'function') payload.data = e.getError();
    else if (typeof e.getResponse === 'function') payload.data = e.getResponse();
    if (payload.code === undefined && typeof e.getStatus === 'function') {
      const status = e.getStatus();
      if (typeof status === 'number') payload.code = status;
    }
    return payload;
  }
  return { name: 'Error', message: typeof error === 'string' ? error : JSON.stringify(error) ?? String(error), data: error };
}
