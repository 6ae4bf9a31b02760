import { rabbitmqctl } from '../../support/broker';
import { stopAllNodes } from './nodes';

/** Deletes the run's users (the test user and its -limited / -special variants) and stops the throwaway nodes. */
export default async function globalTeardown(): Promise<void> {
  const runUser = process.env.WARREN_FAULT_USER;
  const users = await rabbitmqctl('list_users', '-q', '--no-table-headers').catch(() => '');
  for (const line of users.split('\n')) {
    const name = line.split('\t')[0].trim();
    if (runUser && name.startsWith(runUser)) await rabbitmqctl('delete_user', name).catch(() => undefined);
  }
  await stopAllNodes();
}
