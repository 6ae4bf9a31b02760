import { UnknownConnectionError } from './unknown-connection.error';
import { WarrenError } from './warren.error';

describe('UnknownConnectionError', () => {
  it('names the connection, the ones there are, and how to add it', () => {
    const error = new UnknownConnectionError('audit', ['default']);
    expect(error).toBeInstanceOf(WarrenError);
    expect(error).toMatchObject({ code: 'UNKNOWN_CONNECTION', name: 'UnknownConnectionError', connection: 'audit', known: ['default'] });
    expect(error.message).toBe("No RabbitMQ connection named 'audit' (known: default). Add RabbitMQModule.forRoot({ name: 'audit', uri }) to the application.");
    expect(new UnknownConnectionError('x', []).message).toContain('(known: none)');
  });
});
