#!/usr/bin/env bash
# Runs the unit and e2e suites (what `npm test` runs through Jest) against RabbitMQ 4.0, started
# beside the default 3.10 broker by scripts/rabbitmq4.sh (the first start on a fresh machine builds
# its Debian 13 root: ~1.5-4 min; later starts ~10 s). The default broker is left alone; Redis is
# the same one `npm test` uses. Extra arguments go to Jest (e.g. a test path pattern).
set -euo pipefail
source "$(dirname "$0")/lib/rabbitmq4-env.sh"

node scripts/check-broker.js
npm run build --silent

echo
echo "==> unit and e2e suites against RabbitMQ $(bash scripts/rabbitmq4.sh version) at $AMQP_URL"
echo
npx jest --config jest.config.js "$@"
