#!/usr/bin/env bash
# The benchmark against RabbitMQ 4.0 (the node scripts/rabbitmq4.sh runs beside the default broker).
# A full run writes bench/results/rabbitmq4.{md,json,svg}; arguments go to `npm run bench`.
#   npm run bench:rabbitmq4                       # 3 rounds, full sizes
#   npm run bench:rabbitmq4 -- --scenarios core   # any `npm run bench` option
set -euo pipefail
source "$(dirname "$0")/lib/rabbitmq4-env.sh"
npm run bench -- "$@"
