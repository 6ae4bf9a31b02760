#!/usr/bin/env bash
# Throwaway RabbitMQ nodes for the fault suite, beside (and independent of) the default broker:
# a 3-node cluster f1..f3 for quorum-queue failover, and a standalone node "solo" that the suite
# may stop and start (and that carries the TLS listener), so no fault touches the default broker.
#
#   cluster.sh start                  boot f1..f3 and cluster them (idempotent)
#   cluster.sh solo [TLS_DIR]         boot solo; with TLS_DIR (ca.pem server.pem server.key) also an amqps listener
#   cluster.sh stop                   stop every node of ours and delete their data
#   cluster.sh kill N                 kill -9 node N (1..3 or solo)
#   cluster.sh stopnode N             graceful stop of node N
#   cluster.sh startnode N            start node N again (it rejoins its cluster by itself)
#   cluster.sh leader QUEUE           the node leading a quorum queue (vhost /)
#   cluster.sh ctl N ARGS...          rabbitmqctl against node N
#   cluster.sh ports                  "N amqp-port" per node, plus "solo-tls port"
#
# Env: WARREN_FAULT_BASE  data, logs, cookie   (default ${TMPDIR:-/tmp}/warren-fault-nodes; with
#                         WARREN_FAULT_ROOT, /var/lib/warren-fault-nodes inside that root)
#      WARREN_FAULT_PORT  port base: AMQP base+1..3, solo base+4, amqps base+5;
#                         Erlang distribution base+20001.. (default 5700: clear of the default broker
#                         at 5672, RabbitMQ 4.0 of scripts/rabbitmq4.sh at 5692, a local cluster at 5681-5683).
#                         Another base also gives the nodes other names (warren-f1-<base>@localhost) and data dir.
#      WARREN_FAULT_BOOT_TIMEOUT  seconds a node may take to boot (default 90)
#      RABBITMQ_SBIN      RabbitMQ's own scripts (default /usr/lib/rabbitmq/bin)
#      WARREN_FAULT_ROOT  a root file system holding another RabbitMQ (e.g. /opt/rabbitmq4-root, the
#                         RabbitMQ 4.0 of scripts/rabbitmq4.sh): the nodes run chrooted into it, their
#                         data under it; RABBITMQ_SBIN and WARREN_FAULT_BASE are then paths inside it
#
# Why it looks the way it does:
# - It runs RabbitMQ's real scripts, not Debian's /usr/sbin wrappers: as root those switch to the
#   rabbitmq user and its HOME, i.e. to the default node's Erlang cookie and environment file.
# - Every node reads an empty rabbitmq-env.conf of its own: /etc/rabbitmq/rabbitmq-env.conf would
#   rename it to the default node.
# - The nodes share one cookie in their own HOME; the CLI run with the same HOME can talk to them.
# - pause_minority: a node cut off from the majority stops serving rather than diverge.
# - A node's VM is found by a marker in its environment, never by process name, so nothing else
#   (the default broker, another engineer's cluster) can be hit by `kill` or `stop`.
set -euo pipefail
SELF=$(readlink -f "$0")
PORT=${WARREN_FAULT_PORT:-5700}
# Another port base is another set of nodes: own names, own data, own markers, so two runs on one
# machine (each with its own WARREN_FAULT_PORT) never stop, kill or join each other's nodes.
if [[ $PORT == 5700 ]]; then SUFFIX=''; else SUFFIX="-$PORT"; fi
FROOT=${WARREN_FAULT_ROOT:-}
FROOT=${FROOT%/}
if [[ -n $FROOT ]]; then BASE=${WARREN_FAULT_BASE:-/var/lib/warren-fault-nodes$SUFFIX}; else BASE=${WARREN_FAULT_BASE:-${TMPDIR:-/tmp}/warren-fault-nodes$SUFFIX}; fi
HBASE=$FROOT$BASE   # the same directory as this script (outside the root) sees it
SBIN=${RABBITMQ_SBIN:-/usr/lib/rabbitmq/bin}
BOOT=${WARREN_FAULT_BOOT_TIMEOUT:-90}
MARK=WARREN_FAULT_NODE

log() { echo "[cluster.sh $(date +%T)] $*" >&2; }
die() { log "$*"; exit 1; }

num() {  # node id -> port offset
  case $1 in 1|2|3) echo "$1" ;; solo) echo 4 ;; *) die "unknown node '$1' (1, 2, 3 or solo)" ;; esac
}
node() { echo "warren-f$1$SUFFIX@localhost"; }
amqp_port() { echo $((PORT + $(num "$1"))); }

env_for() {  # exports what node $1 (and a CLI talking to it) needs; use in a subshell
  local dir=$BASE/$1
  export HOME=$BASE/home
  export RABBITMQ_NODENAME=$(node "$1") RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT=$(amqp_port "$1") RABBITMQ_DIST_PORT=$((PORT + 20000 + $(num "$1")))
  export RABBITMQ_MNESIA_BASE=$dir/mnesia RABBITMQ_LOG_BASE=$dir/log RABBITMQ_PID_FILE=$dir/pid
  export RABBITMQ_CONFIG_FILE=$dir/rabbitmq.conf RABBITMQ_ADVANCED_CONFIG_FILE=$dir/advanced.config
  export RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins RABBITMQ_CONF_ENV_FILE=$dir/rabbitmq-env.conf
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  export ERL_EPMD_ADDRESS=127.0.0.1
  unset ERL_FLAGS RABBITMQ_NODE_PORT_TLS || true
}
mounts() {  # Erlang needs /proc and /dev inside a root
  [[ -n $FROOT ]] || return 0
  mountpoint -q "$FROOT/proc" || mount -t proc proc "$FROOT/proc"
  mountpoint -q "$FROOT/dev" || mount --bind /dev "$FROOT/dev"
}
# Runs RabbitMQ's script $1 with the environment env_for exported: chrooted when there is a root.
rmq() {
  local script=$1; shift
  if [[ -n $FROOT ]]; then mounts; exec chroot "$FROOT" /usr/bin/env PATH="$SBIN:/usr/bin:/bin" "$SBIN/$script" "$@"; fi
  exec "$SBIN/$script" "$@"
}
ctl() { local n=$1; shift; ( env_for "$n"; rmq rabbitmqctl -n "$(node "$n")" "$@" ); }

vm_pid() {  # the beam VM of node $1, or nothing
  local f p
  for f in $(grep -lzx "$MARK=$PORT:$1" /proc/[0-9]*/environ 2>/dev/null); do
    p=${f#/proc/}; p=${p%/environ}
    [[ $(readlink "/proc/$p/exe" 2>/dev/null) == *beam.smp ]] && echo "$p"
  done
  return 0
}
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

write_config() {  # node $1, optional TLS dir $2 (a path inside the root, if any)
  local dir=$HBASE/$1
  mkdir -p "$dir/log" "$dir/mnesia"
  {
    echo "listeners.tcp.1 = 127.0.0.1:$(amqp_port "$1")"
    echo "cluster_partition_handling = pause_minority"
    echo "vm_memory_high_watermark.absolute = 1GiB"
    echo "disk_free_limit.absolute = 50MB"
    echo "log.console = false"
    echo "log.file.level = info"
    echo "loopback_users = none"
    if [[ -n ${2:-} ]]; then
      echo "listeners.ssl.1 = 127.0.0.1:$((PORT + 5))"
      echo "ssl_options.cacertfile = $2/ca.pem"
      echo "ssl_options.certfile = $2/server.pem"
      echo "ssl_options.keyfile = $2/server.key"
      echo "ssl_options.verify = verify_peer"
      echo "ssl_options.fail_if_no_peer_cert = true"
    fi
  } > "$dir/rabbitmq.conf"
  echo '[].' > "$dir/enabled_plugins"
  : > "$dir/rabbitmq-env.conf"
}

# A quorum queue's at-least-once dead-letter worker re-sends a message whose target never
# confirmed it after this long (180 s by default): when the target's leader dies just as a
# delayed retry leaves its wait queue, that bounds how late the retry is (docs/cluster.md).
write_advanced() {
  echo '[{rabbit, [{dead_letter_worker_publisher_confirm_timeout, 5000}]}].' > "$HBASE/$1/advanced.config"
}

cookie() {
  mkdir -p "$HBASE/home"
  local c=$HBASE/home/.erlang.cookie
  [[ -s $c ]] || { head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$c"; }
  chmod 400 "$c"   # Erlang refuses a cookie others can read
}

launch() {  # boots node $1 in the background (own session, survives this script); $2 = TLS dir
  local pid p; pid=$(vm_pid "$1")
  if [[ -n $pid ]]; then
    if ctl "$1" -q ping >/dev/null 2>&1; then return 0; fi
    log "$(node "$1"): leftover VM $pid does not answer; killing it"; for p in $pid; do kill -9 "$p" || true; done; sleep 1
  fi
  listening "$(amqp_port "$1")" && die "port $(amqp_port "$1") is taken by something else; set WARREN_FAULT_PORT"
  local tls=${2:-}
  if [[ -n $tls && -n $FROOT ]]; then  # the node sees only its root: give it a copy of the certificates
    mkdir -p "$HBASE/tls" && cp "$tls"/ca.pem "$tls"/server.pem "$tls"/server.key "$HBASE/tls/" && tls=$BASE/tls
  fi
  [[ -f $HBASE/$1/rabbitmq.conf && -z $tls ]] || write_config "$1" "$tls"
  [[ -f $HBASE/$1/advanced.config ]] || write_advanced "$1"  # also for a node whose rabbitmq.conf predates it
  ( env_for "$1"; export "$MARK=$PORT:$1"; cd "$HBASE/$1"; setsid bash -c "$(declare -f mounts rmq); FROOT='$FROOT' SBIN='$SBIN' rmq rabbitmq-server" >> "$HBASE/$1/stdout.log" 2>&1 < /dev/null 9>&- & )
}

await_boot() {
  local i
  for ((i = 0; i < BOOT * 5; i++)); do listening "$(amqp_port "$1")" && break; sleep 0.2; done
  listening "$(amqp_port "$1")" || die "$(node "$1") did not open its port within $BOOT s; see $HBASE/$1/log"
  ctl "$1" -q await_startup --timeout "$BOOT" >/dev/null
}

clustered() { ctl "$1" -q eval "lists:member('$(node 1)', rabbit_nodes:all())." 2>/dev/null | grep -q true; }

cmd_start() {
  local t0=$SECONDS n
  cookie
  for n in 1 2 3; do launch "$n"; done
  for n in 1 2 3; do await_boot "$n" & done
  for n in 1 2 3; do wait -n || die "a node failed to boot"; done
  for n in 2 3; do
    clustered "$n" && continue
    { ctl "$n" stop_app && ctl "$n" reset && ctl "$n" join_cluster "$(node 1)" && ctl "$n" start_app; } \
      >> "$HBASE/join.log" 2>&1 || die "$(node "$n") could not join $(node 1); see $HBASE/join.log"
  done
  ctl 1 -q await_online_nodes 3 --timeout "$BOOT" >/dev/null || die "the cluster did not see 3 running nodes"
  log "cluster f1..f3 ready in $((SECONDS - t0)) s"
}

cmd_solo() {
  local t0=$SECONDS
  cookie
  if [[ -n ${1:-} ]]; then
    for f in ca.pem server.pem server.key; do [[ -s $1/$f ]] || die "TLS dir $1 lacks $f"; done
  fi
  launch solo "${1:-}"
  await_boot solo
  log "solo node ready in $((SECONDS - t0)) s"
}

stop_node() {
  local pid i p; pid=$(vm_pid "$1"); [[ -n $pid ]] || return 0
  timeout 60 "$SELF" ctl "$1" -q stop >/dev/null 2>&1 || true
  for ((i = 0; i < 150; i++)); do [[ -z $(vm_pid "$1") ]] && return 0; sleep 0.2; done
  log "$(node "$1") did not stop; kill -9 $pid"; for p in $pid; do kill -9 "$p" 2>/dev/null || true; done
}

cmd_kill() {
  # More than one VM can carry a node's marker for a moment (a short-lived helper VM the node's
  # scripts start with its environment): kill them all.
  local pids p; pids=$(vm_pid "$1"); [[ -n $pids ]] || { log "$(node "$1") is not running"; return 0; }
  for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
  for p in $pids; do while kill -0 "$p" 2>/dev/null; do sleep 0.05; done; done
}

cmd_stop() {
  local n
  for n in 1 2 3 solo; do stop_node "$n" & done
  wait
  rm -rf --one-file-system "$HBASE"
}

cmd_leader() {
  local n out
  for n in 1 2 3; do
    [[ -n $(vm_pid "$n") ]] || continue
    out=$(timeout 20 "$SELF" ctl "$n" -q list_queues name leader --no-table-headers 2>/dev/null) || continue
    awk -v q="$1" '$1 == q { print $2; found = 1 } END { exit !found }' <<< "$out" && return 0
  done
  return 1
}

cmd=${1:-}
[[ $# -gt 0 ]] && shift
case $cmd in
  start|solo|stop|startnode|stopnode|kill)
    command -v flock >/dev/null && { mkdir -p "$HBASE"; exec 9> "$HBASE.lock"; flock -w 300 9; } ;;
esac
case $cmd in
  start) cmd_start ;;
  solo) cmd_solo "${1:-}" ;;
  stop) cmd_stop ;;
  kill) num "${1:?node}" >/dev/null; cmd_kill "$1" ;;
  stopnode) num "${1:?node}" >/dev/null; stop_node "$1" ;;
  startnode) num "${1:?node}" >/dev/null; cookie; launch "$1"; await_boot "$1" ;;
  leader) cmd_leader "${1:?queue}" ;;
  ctl) n=${1:?node}; shift; num "$n" >/dev/null; ctl "$n" "$@" ;;
  ports) for n in 1 2 3 solo; do echo "$n $(amqp_port "$n")"; done; echo "solo-tls $((PORT + 5))" ;;
  *) sed -n '2,22p' "$SELF"; exit 2 ;;
esac
