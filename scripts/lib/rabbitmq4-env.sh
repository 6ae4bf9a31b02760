# Sourced by the scripts that run something against RabbitMQ 4.0 (test-rabbitmq4.sh,
# test-faults-rabbitmq4.sh, bench-rabbitmq4.sh): sets `root` to the repository and makes it the
# working directory, starts the 4.0 node of scripts/rabbitmq4.sh, and exports AMQP_URL and the
# RABBITMQCTL that manages that node (the suites inspect the broker under test with it).
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bash scripts/rabbitmq4.sh start
AMQP_URL="$(bash scripts/rabbitmq4.sh url)"
export AMQP_URL
export RABBITMQCTL="bash $root/scripts/rabbitmq4.sh ctl"
