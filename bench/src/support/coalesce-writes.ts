import type * as amqp from 'amqplib';
import { socketOf } from './broker-helper';

/**
 * What the tightest raw client does about amqplib writing every frame to the socket on its own
 * (one system call, and with TCP_NODELAY one segment, per publish, ack or reply): it corks the
 * socket on the first write of a turn of the event loop and uncorks it on the next tick, so the
 * turn's frames leave in one `writev`. Written here, independently of Warren (which does the
 * same in its connection layer), so that the reference does not measure Warren's code.
 */
export function coalesceSocketWrites(model: amqp.ChannelModel): void {
  const socket = socketOf(model);
  if (!socket) throw new Error('amqplib no longer keeps its socket at connection.stream: the reference cannot coalesce its writes');
  const write = socket.write.bind(socket);
  let corked = false;
  const uncork = (): void => {
    corked = false;
    socket.uncork();
  };
  socket.write = ((...args: Parameters<typeof socket.write>) => {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return write(...args);
  }) as typeof socket.write;
}
