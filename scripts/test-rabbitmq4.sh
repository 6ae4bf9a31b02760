#!/usr/bin/env bash
# Runs the unit and e2e suites (what `npm test` runs through Jest) against RabbitMQ 4.0, started
# beside the default 3.10 broker by scripts/rabbitmq4.sh (the first start on a fresh machine builds
# its Debian 13 root: ~1.5-4 min; later starts ~10 s). The default broker is left alone; Redis is
# the same one `npm test` uses. Extra arguments go to Jest (e.g. a test path pattern).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

bash scripts/rabbitmq4.sh start
export AMQP_URL="$(bash scripts/rabbitmq4.sh url)"
# The e2e support inspects the broker under test with this rabbitmqctl (see test/support/broker.ts).
export RABBITMQCTL="bash $root/scripts/rabbitmq4.sh ctl"

node scripts/check-broker.js
npm run build --silent

echo
echo "==> unit and e2e suites against RabbitMQ $(bash scripts/rabbitmq4.sh version) at $AMQP_URL"
echo
npx jest --config jest.config.js "$@"
