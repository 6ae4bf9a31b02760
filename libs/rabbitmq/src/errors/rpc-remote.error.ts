import { WarrenError } from './warren.error';

/** What a failing RPC handler sends back to the caller. */
export interface RemoteErrorPayload {
  name: string;
  message: string;
  code?: string | number;
  data?: unknown;
}

/** The RPC handler threw: its error's name, message, code and data, delivered to the caller. */
export class RpcRemoteError extends WarrenError {
  /** The remote error's class name, e.g. 'OutOfStockError'. */
  readonly remoteName: string;
  readonly remoteCode: string | number | undefined;
  readonly data: unknown;

  constructor(
    readonly routingKey: string,
    payload: RemoteErrorPayload,
  ) {
    super('RPC_REMOTE_ERROR', payload.message);
    this.remoteName = payload.name;
    this.remoteCode = payload.code;
    this.data = payload.data;
  }
}
