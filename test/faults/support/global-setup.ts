import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { rabbitmqctl } from '../../support/broker';
import { newFaultCredentials } from './fault-env';
import { CAPTURED_FILE, FIGURES_FILE, RUN_DIR } from './paths';

/** Fresh scratch space, and the run's test user on the default broker. */
export default async function globalSetup(): Promise<void> {
  // The test PKI (tls/) stays: a node kept running between runs (WARREN_FAULT_KEEP_NODES) uses it.
  mkdirSync(RUN_DIR, { recursive: true });
  for (const file of [FIGURES_FILE, CAPTURED_FILE]) rmSync(file, { force: true });
  const { user, password } = newFaultCredentials();
  await rabbitmqctl('add_user', user, password);
  await rabbitmqctl('set_permissions', '-p', '/', user, '.*', '.*', '.*');
  process.env.WARREN_FAULT_USER = user;
  process.env.WARREN_FAULT_PASSWORD = password;
  // Only the user name is written down; the password lives in this process's environment.
  writeFileSync(`${RUN_DIR}/user`, `${user}\n`);
}
