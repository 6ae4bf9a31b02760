import type { INestApplicationContext } from '@nestjs/common';
import { ConnectionFailedError } from '@warren/rabbitmq';
import { bootExpectingFailure } from '../support/app';
import { captureError, FaultLogger } from './support/capture';
import { opensslMissing, testPki, type TestPki } from './support/certs';
import { TotalQueueChecker } from './support/checker';
import { faultCredentials, faultUrl } from './support/fault-env';
import { recordFigures, since } from './support/figures';
import { bootApp, currentTest, faultName, recorderModule, resetLogger } from './support/harness';
import { NodeAdmin } from './support/node-admin';
import { amqpPort, ensureSolo, nodeCtl, TLS_PORT } from './support/nodes';
import { until } from './support/stream';

const MESSAGES = 1_000;
const INIT_TIMEOUT = 3_000;

/**
 * The standalone node listens for amqps with a test CA made by the suite (openssl), and requires
 * a client certificate (verify_peer, fail_if_no_peer_cert). The default broker's config is not touched.
 */
describe('security: TLS with client certificates', () => {
  const exchange = faultName('tls.x');
  const queue = faultName('tls.q');
  let skip: string | undefined;
  let pki: TestPki;
  let admin: NodeAdmin | undefined;
  let app: INestApplicationContext | undefined;

  beforeAll(async () => {
    skip = (await opensslMissing()) ?? (await ensureSolo());
    if (skip) {
      process.stdout.write(`[faults] TLS skipped: ${skip}\n`);
      return;
    }
    pki = await testPki();
    admin = await NodeAdmin.connect(faultUrl(amqpPort('solo')));
  });

  afterAll(async () => {
    await app?.close().catch(() => undefined);
    await admin?.deleteQueue(queue, `${queue}.dlq`);
    await admin?.deleteExchange(exchange);
    await admin?.close();
    resetLogger();
  });

  const tlsUrl = (): string => faultUrl(TLS_PORT, 'localhost', 'amqps');

  it('connects over amqps with the CA and a client certificate, and publishes and consumes', async () => {
    const started = Date.now();
    if (skip) {
      recordFigures({ id: 'S1', scenario: 'TLS: amqps with client certificate', test: currentTest(), durationMs: since(started), skipped: skip });
      return;
    }
    const checker = new TotalQueueChecker();
    const connectionName = faultName('tls-app');
    const booted = await bootApp(
      recorderModule(
        {
          uri: tlsUrl(),
          connectionName,
          socketOptions: { ca: [pki.ca], cert: pki.clientCert, key: pki.clientKey, servername: 'localhost' },
          exchanges: [{ name: exchange, type: 'direct' }],
        },
        { exchange, queue, checker, deadLetter: true },
      ),
      'tls-ok',
    );
    app = booted.app;
    const results = await booted.amqp.publishBatch(
      Array.from({ length: MESSAGES }, (_, i) => {
        const id = `tls-${i}`;
        checker.attempt(id);
        return { exchange, routingKey: queue, message: { id }, options: { messageId: id } };
      }),
    );
    const failed = new Set(results.failed.map((f) => f.index));
    for (let i = 0; i < MESSAGES; i++) if (!failed.has(i)) checker.confirmed(`tls-${i}`);
    await until(() => checker.settled, 20_000);
    const connections = await nodeCtl('solo', 'list_connections', '-q', '--no-table-headers', 'ssl', 'ssl_protocol', 'peer_cert_subject', 'client_properties');
    const ours = connections.split('\n').find((line) => line.includes(connectionName)) ?? '';
    const figures = checker.report();
    recordFigures({
      id: 'S1',
      scenario: 'TLS: amqps with client certificate',
      test: currentTest(),
      figures,
      durationMs: since(started),
      notes: `broker sees: ${ours.split('\t').slice(0, 3).join(', ') || 'not found'}`,
    });
    await app.close();
    app = undefined;

    expect(results.failed).toEqual([]);
    expect(figures.lost).toBe(0);
    expect(ours.startsWith('true')).toBe(true);
    expect(ours).toContain('CN=warren-fault-client');
  });

  it('refuses a server whose certificate a wrong CA cannot verify, and a client whose certificate expired, with clear errors', async () => {
    const started = Date.now();
    if (skip) {
      recordFigures({
        id: 'S2',
        scenario: 'TLS: wrong CA, expired / missing client certificate',
        test: currentTest(),
        durationMs: since(started),
        skipped: skip,
      });
      return;
    }
    const cases = [
      { label: 'wrong CA', socketOptions: { ca: [pki.otherCa], cert: pki.clientCert, key: pki.clientKey, servername: 'localhost' }, expect: /certificate/i },
      {
        label: 'expired client certificate',
        socketOptions: { ca: [pki.ca], cert: pki.expiredCert, key: pki.expiredKey, servername: 'localhost' },
        expect: /expired/i,
      },
      { label: 'no client certificate', socketOptions: { ca: [pki.ca], servername: 'localhost' }, expect: /certificate/i },
    ];
    const seen: string[] = [];
    const problems: string[] = [];
    for (const c of cases) {
      const logger = new FaultLogger(`tls-${c.label}`);
      const t0 = Date.now();
      const error = await bootExpectingFailure(
        recorderModule(
          {
            uri: tlsUrl(),
            connectionName: faultName('tls-bad'),
            socketOptions: c.socketOptions,
            connectionInitOptions: { timeout: INIT_TIMEOUT },
            exchanges: [{ name: exchange, type: 'direct' }],
          },
          { exchange, queue: faultName('tls.never'), checker: new TotalQueueChecker() },
        ),
        logger,
      );
      const elapsed = Date.now() - t0;
      captureError(`tls-${c.label}`, error);
      const message = error instanceof Error ? error.message : String(error);
      seen.push(
        `${c.label}: ${error instanceof ConnectionFailedError ? `${error.code} ` : ''}after ${elapsed} ms, "${message.replace(/^.*?not retried\. /, '').replace(/ Check socketOptions.*$/, '')}"`,
      );
      if (!(error instanceof ConnectionFailedError)) problems.push(`${c.label}: not a ConnectionFailedError`);
      if (!c.expect.test(message)) problems.push(`${c.label}: the error does not say why: ${message}`);
      // A certificate problem does not fix itself: it fails at once, like wrong credentials.
      if (elapsed > 1_000) problems.push(`${c.label}: took ${elapsed} ms; a TLS failure should not be retried until the timeout`);
      if (error instanceof ConnectionFailedError && error.reason !== 'tls') problems.push(`${c.label}: reason '${error.reason}', expected 'tls'`);
      if (message.includes(faultCredentials().password)) problems.push(`${c.label}: the password is in the message`);
    }
    recordFigures({
      id: 'S2',
      scenario: 'TLS: wrong CA, expired / missing client certificate',
      test: currentTest(),
      durationMs: since(started),
      notes: `${seen.join('; ')}${problems.length ? `; PROBLEMS: ${problems.join(' | ')}` : ''}`,
    });
    expect(problems).toEqual([]);
  });
});
