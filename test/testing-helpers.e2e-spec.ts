import { Injectable } from '@nestjs/common';
import { AmqpConnection, RabbitHeader, RabbitMQModule, RabbitPayload, RabbitRequest, RabbitSubscribe, type ConsumeMessage } from '@warren/rabbitmq';
import { createTestMessage, invokeHandler, RabbitTestNames, waitForHandled } from '@warren/rabbitmq/testing';
import { createApp } from './support/app';
import { AMQP_URL, BrokerAdmin } from './support/broker';

const names = new RabbitTestNames('helpers');
const exchange = names.exchange('x');
const queue = names.queue('q');

@Injectable()
class Greeter {
  readonly greeted: string[] = [];

  @RabbitSubscribe({ exchange, routingKey: 'greet', queue, deadLetter: true })
  greet(@RabbitPayload('name') name: string, @RabbitHeader('lang') lang: string, @RabbitRequest() message: ConsumeMessage): string {
    const greeting = `${lang === 'fr' ? 'bonjour' : 'hello'} ${name} via ${message.fields.routingKey}`;
    this.greeted.push(greeting);
    return greeting;
  }
}

describe('@warren/rabbitmq/testing', () => {
  it('invokes a decorated handler directly, resolving its parameter decorators, without a broker', async () => {
    const greeter = new Greeter();
    const result = await invokeHandler(greeter, 'greet', { payload: { name: 'Ada' }, headers: { lang: 'fr' }, routingKey: 'greet' });
    expect(result).toBe('bonjour Ada via greet');
    expect(createTestMessage({ payload: { a: 1 } }).content.toString()).toBe('{"a":1}');
  });

  it('gives unique names, waits for a handler to process N messages, and cleans up', async () => {
    expect(queue).toMatch(/^helpers\.q\.[a-z0-9]+\.[0-9a-f]{6}$/);
    expect(new RabbitTestNames('helpers').queue('q')).not.toBe(queue);
    const app = await createApp({
      imports: [RabbitMQModule.forRoot({ uri: AMQP_URL, exchanges: [{ name: exchange, type: 'direct' }] })],
      providers: [Greeter],
    });
    const amqp = app.get(AmqpConnection);
    const admin = await BrokerAdmin.connect();
    try {
      for (let i = 0; i < 5; i++) await amqp.publish(exchange, 'greet', { name: `n${i}` }, { headers: { lang: 'en' } });
      const stats = await waitForHandled(amqp, 'Greeter.greet', 5);
      expect(stats.handled).toBe(5);
      await expect(waitForHandled(amqp, 'Greeter.greet', 6, 200)).rejects.toThrow('handled 5 of 6');
      await expect(waitForHandled(amqp, 'Nobody.here', 1, 50)).rejects.toThrow('No handler named Nobody.here');
      await names.cleanup(amqp);
      expect(await admin.queueExists(queue)).toBe(false);
      expect(await admin.queueExists(`${queue}.dlq`)).toBe(false);
    } finally {
      await app.close();
      await admin.close();
    }
  });
});
