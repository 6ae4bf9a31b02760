import { WarrenError } from './warren.error';

/** The broker's reply code for a declaration whose arguments differ from the existing resource's (golevelup's name); see `TopologyError.replyCode`. */
export const PRECONDITION_FAILED_CODE = 406;

/** A queue, exchange or binding could not be declared. */
export class TopologyError extends WarrenError {
  constructor(
    /** 'queue', 'exchange' or 'binding'. */
    readonly kind: 'queue' | 'exchange' | 'binding',
    readonly resource: string,
    /** The broker's reply code (406 PRECONDITION_FAILED, 403 ACCESS_REFUSED, 404 NOT_FOUND, ...). */
    readonly replyCode: number | undefined,
    message: string,
    cause?: unknown,
  ) {
    super(replyCode === 406 ? 'PRECONDITION_FAILED' : replyCode === 403 ? 'ACCESS_REFUSED' : 'TOPOLOGY_FAILED', message, { cause });
  }
}
