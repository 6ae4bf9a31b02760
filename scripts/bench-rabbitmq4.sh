#!/usr/bin/env bash
# The benchmark against RabbitMQ 4.0 (the node scripts/rabbitmq4.sh runs beside the default broker).
# A full run writes bench/results/rabbitmq4.{md,json,svg}; arguments go to `npm run bench`.
#   npm run bench:rabbitmq4                       # 3 rounds, full sizes
#   npm run bench:rabbitmq4 -- --scenarios core   # any `npm run bench` option
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

bash scripts/rabbitmq4.sh start
export AMQP_URL="$(bash scripts/rabbitmq4.sh url)"
export RABBITMQCTL="bash $root/scripts/rabbitmq4.sh ctl"
npm run bench -- "$@"
