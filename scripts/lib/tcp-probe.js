// Shared by the scripts that check services before starting: TCP probes that never hang.
'use strict';
const net = require('node:net');

/** Host and port of a URL, with the scheme's default port. */
function endpoint(url, defaultPort) {
  const u = new URL(url);
  return { host: u.hostname || '127.0.0.1', port: Number(u.port || defaultPort) };
}

/** The default AMQP port of a URL's scheme. */
function amqpPort(url) {
  return url.startsWith('amqps') ? 5671 : 5672;
}

/** Resolves true when something accepts a TCP connection, false on refusal or after `timeoutMs`. */
function probe({ host, port }, timeoutMs = 3000) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** A URL with its password replaced by ***. */
function mask(url) {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

module.exports = { endpoint, amqpPort, probe, mask };
