import { existsSync, readFileSync } from 'node:fs';
import { Injectable, type INestApplicationContext } from '@nestjs/common';
import { RabbitMQModule, RabbitSubscribe } from '@warren/rabbitmq';
import { bootExpectingFailure } from '../support/app';
import { BrokerAdmin, closeConnectionsNamed, rabbitmqctl } from '../support/broker';
import { captureError, FaultLogger } from './support/capture';
import { DEFAULT_HOST, DEFAULT_PORT, faultCredentials, faultUrl } from './support/fault-env';
import { recordFigures, since } from './support/figures';
import { bootApp, currentTest, faultName, resetLogger } from './support/harness';
import { CAPTURED_FILE, FIGURES_FILE } from './support/paths';
import { sleep, until } from './support/stream';

/**
 * Runs last (file order): puts the suite's test password through the places a credential
 * could leak — refused logins, unreachable brokers, invalid options, TLS against a plain port,
 * reconnects, debug logging — then scans everything the whole run captured (every log line at
 * every level, every error with its cause chain, every child process's output) for it.
 */
describe('security: credentials never appear in logs or errors', () => {
  let admin: BrokerAdmin;
  const apps: INestApplicationContext[] = [];

  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
  });

  afterAll(async () => {
    for (const app of apps) await app.close().catch(() => undefined);
    await admin.close();
    resetLogger();
  });

  it('the test password is nowhere in what the suite captured', async () => {
    const started = Date.now();
    const { user, password } = faultCredentials();
    // A second user whose password has URL-special characters (sent percent-encoded).
    const special = `${user}-special`;
    const specialPassword = `${password}/@:?#`;
    await rabbitmqctl('add_user', special, specialPassword);
    await rabbitmqctl('set_permissions', '-p', '/', special, '.*', '.*', '.*');
    const secrets = [password, encodeURIComponent(password), specialPassword, encodeURIComponent(specialPassword), `${password}-wrong`];
    const situations: string[] = [];
    try {
      const exchange = faultName('creds.x');
      const queue = faultName('creds.q');
      admin.track('exchange', exchange);
      admin.track('queue', queue, `${queue}.dlq`);

      @Injectable()
      class Quiet {
        @RabbitSubscribe({ exchange, routingKey: queue, queue, deadLetter: true })
        handle(): void {
          throw new Error('fails, to produce warn-level dead-letter lines');
        }
      }
      const module = (uri: string, extra: Record<string, unknown> = {}) => ({
        imports: [
          RabbitMQModule.forRoot({
            uri,
            connectionName: faultName('creds'),
            exchanges: [{ name: exchange, type: 'direct' }],
            connectionInitOptions: { timeout: 1_500 },
            ...extra,
          }),
        ],
        providers: [Quiet],
      });
      const specialUrl = `amqp://${encodeURIComponent(special)}:${encodeURIComponent(specialPassword)}@${DEFAULT_HOST}:${DEFAULT_PORT}`;
      const failures: Array<[string, string | string[]]> = [
        ['wrong password', faultUrl().replace(encodeURIComponent(password), encodeURIComponent(`${password}-wrong`))],
        ['nothing listening', faultUrl(1)],
        ['amqps to a plain AMQP port', faultUrl(DEFAULT_PORT, 'localhost', 'amqps')],
        ['a URL that is not amqp://', faultUrl().replace(/^amqp:/, 'http:')],
        ['a raw ":" in the password of a URL that is not amqp://', `http://${user}:${password}:x@${DEFAULT_HOST}:${DEFAULT_PORT}`],
        ['several URLs, none reachable', [faultUrl(1), specialUrl.replace(`:${DEFAULT_PORT}`, ':2')]],
      ];
      for (const [label, uri] of failures) {
        const logger = new FaultLogger(`creds-${label}`);
        const error = await bootExpectingFailure(module(uri as string), logger);
        captureError(`creds-${label}`, error);
        situations.push(
          `${label}: ${error instanceof Error ? `${error.name}${(error as { code?: string }).code ? ` ${(error as { code?: string }).code}` : ''}` : typeof error}`,
        );
      }

      // A working connection with the special password: reconnects, dead letters, debug lines.
      const booted = await bootApp(module(specialUrl), 'creds-live');
      apps.push(booted.app);
      await booted.amqp.publish(exchange, queue, { poison: true });
      await until(async () => (await admin.messageCount(`${queue}.dlq`)) === 1, 5_000);
      const liveName = (booted.amqp.options as { connectionName: string }).connectionName;
      await closeConnectionsNamed(liveName);
      await until(() => booted.amqp.isConnected, 10_000);
      await sleep(300);
      situations.push(`live connection: ${booted.logger.lines.length} log lines incl. a reconnect`);
    } finally {
      await rabbitmqctl('delete_user', special).catch(() => undefined);
    }

    // Everything the run captured so far, from every spec and child process.
    const captured = existsSync(CAPTURED_FILE) ? readFileSync(CAPTURED_FILE, 'utf8') : '';
    const figures = existsSync(FIGURES_FILE) ? readFileSync(FIGURES_FILE, 'utf8') : '';
    const haystack = `${captured}\n${figures}`;
    const lines = haystack.split('\n');
    const hits = lines.filter((line) => secrets.some((secret) => line.includes(secret)));
    const masked = lines.filter((line) => line.includes(':***@')).length;

    recordFigures({
      id: 'S5',
      scenario: 'credentials in logs and errors',
      test: currentTest(),
      durationMs: since(started),
      notes: `${lines.length} captured lines scanned (${masked} with a masked URL) for the test passwords: ${hits.length} hit(s); situations: ${situations.join('; ')}`,
    });

    expect(captured.length).toBeGreaterThan(0);
    expect(masked).toBeGreaterThan(0);
    // Reported with the secrets blanked out, so a failure does not print them either.
    const redact = (line: string): string => secrets.reduce((text, secret) => text.split(secret).join('<SECRET>'), line).slice(0, 300);
    expect(hits.map(redact)).toEqual([]);
  });
});
