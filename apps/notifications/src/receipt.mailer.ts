import { Injectable } from '@nestjs/common';
import { RabbitHeader, RabbitPayload, RabbitSubscribe } from '@warren/rabbitmq';
import type { ReceiptDocument } from '../../common/src/contracts';
import { formatCents } from '../../common/src/money';
import { HANDLERS } from '../../common/src/sample-names';
import { Timeline } from '../../common/src/timeline';
import { NotificationLog } from './notification.log';

/** Receipts arrive through the headers exchange: the binding matches `kind: receipt`, whatever the routing key. */
@Injectable()
export class ReceiptMailer {
  constructor(
    private readonly log: NotificationLog,
    private readonly timeline: Timeline,
  ) {}

  @RabbitSubscribe({
    name: HANDLERS.receipts,
    exchange: 'documents',
    queue: 'notifications.receipts',
    bindingArguments: { 'x-match': 'all', kind: 'receipt' },
    dedup: { ttl: 3_600_000 },
  })
  async mail(@RabbitPayload() receipt: ReceiptDocument, @RabbitHeader('format') format?: string): Promise<void> {
    const text = `receipt ${receipt.paymentId} (${format ?? 'pdf'}), ${formatCents(receipt.totalCents)}`;
    await this.log.record({ channel: 'email', kind: 'receipt', orderId: receipt.orderId, text });
    await this.timeline.record(receipt.orderId, `email: ${text}`, 'via the headers exchange');
  }
}
