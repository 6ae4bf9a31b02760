#!/usr/bin/env bash
# Runs the fault suite (test/faults/) against RabbitMQ 4.0: the scenarios that use the broker at
# AMQP_URL run on the 4.0 node of scripts/rabbitmq4.sh (port 5692), and those that stop, restart,
# alarm or TLS-enable a node of their own run a throwaway solo node booted from the same 4.0 root
# (test/faults/support/cluster.sh with WARREN_FAULT_ROOT). The 3-node cluster scenarios run in the
# 3.10 run only (test/faults/README.md, "Broker versions"). Figures go to
# test/faults/results/latest-rabbitmq4.md. Extra arguments go to Jest (e.g. `05` for one scenario).
set -euo pipefail
source "$(dirname "$0")/lib/rabbitmq4-env.sh"
export WARREN_FAULT_ROOT="${R4_ROOT:-/opt/rabbitmq4-root}"
export WARREN_FAULT_RUN_DIR="$root/.tmp/faults-rabbitmq4"
export WARREN_FAULT_RESULTS="test/faults/results/latest-rabbitmq4.md"
version="$(bash scripts/rabbitmq4.sh version)"
export WARREN_FAULT_BROKER="RabbitMQ $version (the node of scripts/rabbitmq4.sh at $AMQP_URL, throwaway solo nodes from $WARREN_FAULT_ROOT; cluster scenarios skipped: they run on 3.10; the outbox scenario 15 runs on 3.10 only: its faults are in PostgreSQL)"

echo
echo "==> fault suite against RabbitMQ $version at $AMQP_URL (throwaway nodes from $WARREN_FAULT_ROOT)"
echo
# Without arguments: every scenario but 15 (the outbox: its faults are PostgreSQL's and a relay's, the
# same on either broker generation; it takes ~5 min, run once, on 3.10). With arguments: what they name.
if [ "$#" -eq 0 ]; then set -- --testPathIgnorePatterns '15-outbox'; fi
npm run test:faults -- "$@"
