import { ConsoleLogger, Logger, type INestApplicationContext, type LoggerService, type ModuleMetadata } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { BrokerAdmin } from './broker';

/** Boots a Nest application context from module metadata and returns it initialised. */
export async function createApp(metadata: ModuleMetadata, logger?: LoggerService): Promise<INestApplicationContext> {
  const moduleRef = await Test.createTestingModule(metadata).compile();
  moduleRef.useLogger(logger ?? (process.env.TEST_LOGS ? new Logger() : ['error']));
  await moduleRef.init();
  return moduleRef;
}

/**
 * The apps a suite boots, all closed in its afterAll, and a raw broker admin
 * opened in beforeAll and closed (with what it tracked) after the apps.
 */
export function suiteApps(): { readonly admin: BrokerAdmin; boot: typeof createApp; close(app: INestApplicationContext): Promise<void> } {
  const apps: INestApplicationContext[] = [];
  let admin: BrokerAdmin | undefined;
  beforeAll(async () => {
    admin = await BrokerAdmin.connect();
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await admin?.close();
  });
  return {
    get admin(): BrokerAdmin {
      if (!admin) throw new Error('suiteApps().admin is only available inside tests');
      return admin;
    },
    async boot(...args: Parameters<typeof createApp>): Promise<INestApplicationContext> {
      const app = await createApp(...args);
      apps.push(app);
      return app;
    },
    /** Closes one app before the end of the suite. */
    async close(app: INestApplicationContext): Promise<void> {
      apps.splice(apps.indexOf(app), 1);
      await app.close();
    },
  };
}

/**
 * Collects log lines so tests can assert on what an operator would see.
 * Extends ConsoleLogger: Nest refuses a subclass of Logger as the application logger.
 */
export class CapturingLogger extends ConsoleLogger {
  readonly lines: string[] = [];
  override log(message: unknown, ...rest: unknown[]): void {
    this.lines.push(`LOG ${String(message)} ${rest.join(' ')}`);
  }
  override warn(message: unknown, ...rest: unknown[]): void {
    this.lines.push(`WARN ${String(message)} ${rest.join(' ')}`);
  }
  override error(message: unknown, ...rest: unknown[]): void {
    this.lines.push(`ERROR ${String(message)} ${rest.join(' ')}`);
  }
  override debug(message: unknown, ...rest: unknown[]): void {
    this.lines.push(`DEBUG ${String(message)} ${rest.join(' ')}`);
  }
  override verbose(): void {}
  override fatal(message: unknown, ...rest: unknown[]): void {
    this.lines.push(`FATAL ${String(message)} ${rest.join(' ')}`);
  }
}

/**
 * Boots an application that is expected to fail start-up and returns the error.
 * Whatever did start (connections opened before the failure) is closed again, so
 * a failing boot leaves no sockets or timers behind.
 */
export async function bootExpectingFailure(metadata: ModuleMetadata, logger?: LoggerService): Promise<unknown> {
  let moduleRef: TestingModule | undefined;
  try {
    moduleRef = await Test.createTestingModule(metadata).compile();
    moduleRef.useLogger(logger ?? new CapturingLogger());
    await moduleRef.init();
  } catch (error) {
    await moduleRef?.close().catch(() => undefined);
    return error;
  }
  await moduleRef.close();
  throw new Error('expected application start-up to fail, but it succeeded');
}
