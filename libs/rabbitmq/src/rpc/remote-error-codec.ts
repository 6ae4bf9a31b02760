import type { RemoteErrorPayload } from '../errors/rpc-remote.error';
import type { Serializer } from '../message/serializer';

/**
 * Turns what an RPC handler threw into the reply body the caller's RpcRemoteError
 * is built from. Nest's `RpcException` (getError()) and HttpException
 * (getResponse()/getStatus()) keep their payloads; a stack never leaves the server.
 * Never throws, whatever was thrown (circular objects, BigInts, throwing getters).
 */
export function encodeRemoteError(error: unknown): RemoteErrorPayload {
  try {
    return encode(error);
  } catch {
    return { name: 'Error', message: 'The handler threw a value that could not be read' };
  }
}

function encode(error: unknown): RemoteErrorPayload {
  if (error instanceof Error) {
    const e = error as Error & { code?: unknown; data?: unknown; getError?: () => unknown; getResponse?: () => unknown; getStatus?: () => unknown };
    const payload: RemoteErrorPayload = { name: String(e.name), message: String(e.message) };
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
  if (error !== null && typeof error === 'object') {
    // A thrown plain object (Nest's RPC exception filters return these) keeps its name, message and code.
    const { name, message, code } = error as { name?: unknown; message?: unknown; code?: unknown };
    const payload: RemoteErrorPayload = {
      name: typeof name === 'string' ? name : 'Error',
      message: typeof message === 'string' ? message : jsonOrString(error),
      data: error,
    };
    if (typeof code === 'string' || typeof code === 'number') payload.code = code;
    return payload;
  }
  return { name: 'Error', message: typeof error === 'string' ? error : jsonOrString(error), data: error };
}

function jsonOrString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** An error reply ready to publish. */
export interface EncodedRemoteError {
  body: Buffer;
  contentType: string;
  /** The error's `data` could not be serialized and was left out. */
  dataDropped: boolean;
}

/**
 * The body of an error reply: the payload through `serializer`; without its `data` when
 * that cannot be serialized (name, message and code still reach the caller); as plain
 * JSON when the serializer cannot encode even that. Never throws.
 */
export function encodeRemoteErrorBody(serializer: Serializer, error: unknown): EncodedRemoteError {
  const payload = encodeRemoteError(error);
  try {
    return { body: serializer.serialize(payload), contentType: serializer.contentType, dataDropped: false };
  } catch {
    // Falls through: try again without the data.
  }
  const bare: RemoteErrorPayload = { name: payload.name, message: payload.message };
  if (payload.code !== undefined) bare.code = payload.code;
  const dataDropped = payload.data !== undefined;
  try {
    return { body: serializer.serialize(bare), contentType: serializer.contentType, dataDropped };
  } catch {
    return { body: Buffer.from(JSON.stringify(bare)), contentType: 'application/json', dataDropped };
  }
}
