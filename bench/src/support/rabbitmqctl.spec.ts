import * as fs from 'fs';
import { rabbitmqctlCommand } from './rabbitmqctl';

describe('rabbitmqctlCommand', () => {
  it('manages the default node with the rabbitmqctl on the PATH', () => {
    expect(rabbitmqctlCommand({})).toEqual(['rabbitmqctl']);
    expect(rabbitmqctlCommand({ AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672' })).toEqual(['rabbitmqctl']);
  });

  it("manages the RabbitMQ 4 node through its script when the URL is on that node's port", () => {
    const [shell, script, verb] = rabbitmqctlCommand({ AMQP_URL: 'amqp://guest:guest@127.0.0.1:5692' });
    expect([shell, verb]).toEqual(['bash', 'ctl']);
    expect(fs.existsSync(script)).toBe(true);
    expect(fs.readFileSync(script, 'utf8')).toContain('rabbit4@localhost');
  });

  it('takes RABBITMQCTL as a command line, whatever the URL', () => {
    expect(rabbitmqctlCommand({ RABBITMQCTL: ' bash /x/ctl.sh  ctl ', AMQP_URL: 'amqp://127.0.0.1:5692' })).toEqual(['bash', '/x/ctl.sh', 'ctl']);
  });
});
