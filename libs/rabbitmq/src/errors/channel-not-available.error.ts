import { ConnectionClosedError } from './connection-closed.error';

/**
 * `AmqpConnection.channel` was read while there is no channel to give: the connection is down or
 * its topology channel is reopening. golevelup's name for this case; a ConnectionClosedError too,
 * so both `instanceof` checks hold. Wait until `status$` emits 'connected' and read it again.
 */
export class ChannelNotAvailableError extends ConnectionClosedError {
  constructor(connection: string) {
    super(connection, "or its topology channel is reopening: no channel to give now; wait until status$ emits 'connected'", 'CHANNEL_NOT_AVAILABLE');
  }
}
