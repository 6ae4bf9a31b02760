import { randomBytes } from 'node:crypto';
import { AMQP_URL } from '../../support/broker';

/**
 * The suite connects as a dedicated user with a distinctive password, created for the run
 * (global-setup) and deleted afterwards (global-teardown), so that the credentials scan can
 * look for that password in everything the run printed, logged or threw.
 */
export interface FaultCredentials {
  user: string;
  password: string;
}

export function newFaultCredentials(): FaultCredentials {
  const tag = randomBytes(4).toString('hex');
  return { user: `warren-fault-${tag}`, password: `Wf-${randomBytes(9).toString('hex')}-pw` };
}

export function faultCredentials(): FaultCredentials {
  const user = process.env.WARREN_FAULT_USER;
  const password = process.env.WARREN_FAULT_PASSWORD;
  if (!user || !password) throw new Error('WARREN_FAULT_USER/WARREN_FAULT_PASSWORD are not set: run the suite with test/faults/jest.config.js');
  return { user, password };
}

const broker = new URL(AMQP_URL);
/** Host and port of the default broker (the one rabbitmqctl manages). */
export const DEFAULT_HOST = broker.hostname || '127.0.0.1';
export const DEFAULT_PORT = Number(broker.port || 5672);

/** An AMQP URL for the suite's test user: the default broker, or another port (a throwaway node, a proxy). */
export function faultUrl(port = DEFAULT_PORT, host = DEFAULT_HOST, scheme: 'amqp' | 'amqps' = 'amqp'): string {
  const { user, password } = faultCredentials();
  return `${scheme}://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}`;
}
