#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine, reachable on loopback only: enough to run
# changesim's Slurm launcher (configs/hydra/launcher/slurm.yaml) end to end in CI or on a laptop.
#
#   sudo scripts/slurm_cluster.sh start           # install what is missing, configure, start, wait for idle
#   sudo scripts/slurm_cluster.sh status          # daemons, sinfo, and every listener of ours
#   sudo scripts/slurm_cluster.sh stop            # cancel jobs, stop the daemons this script started
#   sudo scripts/slurm_cluster.sh stop --purge    # ...and drop the accounting database, state, logs, configs
#
# What runs (Debian 12 packages, Slurm 22.05): munged; MariaDB with --skip-networking (unix socket
# only) and slurmdbd, so that `sacct` answers: submitit polls sacct, and without accounting a job
# that dies without writing its result (scancel, OOM kill, node loss) leaves the sweep waiting
# forever (shared/research/infra.md §3b); slurmctld; slurmd. Every TCP listener is on 127.0.0.1:
# slurmctld and slurmd need CommunicationParameters=NoInAddrAny,NoCtldInAddrAny, slurmdbd needs
# NoInAddrAny in slurmdbd.conf (without them they bind 0.0.0.0). `start` checks this with `ss` and
# tears everything down if any listener of ours is on another address.
#
# Daemons are started directly (no systemd in containers) and stopped by the PID in their own
# pid file, never by name. Config files carry a marker line; the script refuses to overwrite a
# slurm.conf or slurmdbd.conf it did not write, so it cannot clobber a real cluster's setup.
# No cgroups (proctrack/pgid, task/none): works in unprivileged containers; jobs are not confined.
#
# Environment:
#   CHANGESIM_SLURM_WAIT=60        seconds to wait for the node to become idle
#   CHANGESIM_SLURM_EDIT_HOSTS=0   1: if the hostname does not resolve to a loopback address (typical
#                                  of CI containers), map it to 127.0.1.1 in /etc/hosts (a marked first
#                                  line, removed by `stop`); 0: refuse to start instead.
set -euo pipefail

WAIT_S=${CHANGESIM_SLURM_WAIT:-60}
EDIT_HOSTS=${CHANGESIM_SLURM_EDIT_HOSTS:-0}
CLUSTER=changesim
PARTITION=main
ETC=/etc/slurm
CONF=$ETC/slurm.conf
DBD_CONF=$ETC/slurmdbd.conf
STATE=/var/lib/slurm-changesim/ctld
SPOOL=/var/lib/slurm-changesim/d
LOGS=/var/log/slurm-changesim
RUN=/run/slurm-changesim
MARK="# written by changesim scripts/slurm_cluster.sh"
HOSTS_MARK="# changesim slurm_cluster.sh"
PACKAGES=(munge slurmctld slurmd slurm-client slurmdbd mariadb-server)

say() { printf '[slurm_cluster %s] %s\n' "$(date +%T)" "$*" >&2; }
fail() { say "error: $*"; exit 1; }

running() {  # pidfile -> true if the process it names is alive
  [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

halt() {  # name pidfile: SIGTERM the pid in the file, wait up to 20 s, then SIGKILL that pid only
  local name=$1 pidfile=$2 pid
  if ! running "$pidfile"; then rm -f "$pidfile"; return 0; fi
  pid=$(cat "$pidfile")
  say "stopping $name (pid $pid)"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then say "$name still running: SIGKILL $pid"; kill -9 "$pid" 2>/dev/null || true; fi
  rm -f "$pidfile"
}

await() {  # seconds what command... : poll the command every 0.5 s until it succeeds
  local limit=$1 what=$2; shift 2
  local until=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    (( SECONDS < until )) || fail "gave up after ${limit}s waiting for $what (logs in $LOGS)"
    sleep 0.5
  done
}

listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

ours() {  # path -> true if absent or written by this script
  [[ ! -e $1 ]] || head -1 "$1" | grep -qxF "$MARK"
}

install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  command -v ss >/dev/null || missing+=(iproute2)
  (( ${#missing[@]} )) || return 0
  say "installing ${missing[*]}"
  # Without systemd, the packages' postinst would start munge, MariaDB (on TCP 3306) and slurmd
  # with default configs. A policy-rc.d that says "no" keeps them down; we start them ourselves.
  local guard=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\n# temporary, changesim slurm_cluster.sh: no service starts during install\nexit 101\n' \
      > /usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    guard=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  local rc=0
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } || rc=$?
  if (( guard )); then rm -f /usr/sbin/policy-rc.d; fi
  (( rc == 0 )) || fail "apt-get install failed (rc $rc)"
}

resolve_host() {  # sets HOST and ADDR; the node must be reachable as its own hostname on loopback
  HOST=$(hostname -s)
  ADDR=$(getent ahostsv4 "$HOST" | awk 'NR == 1 {print $1}')
  if [[ $ADDR != 127.* ]]; then
    (( EDIT_HOSTS )) || fail "hostname $HOST resolves to '${ADDR:-nothing}', not a loopback address: the
    daemons would listen there. Set CHANGESIM_SLURM_EDIT_HOSTS=1 to map it to 127.0.1.1 in /etc/hosts."
    say "mapping $HOST to 127.0.1.1 in /etc/hosts"
    # first line wins: put ours before the line that maps the name elsewhere. /etc/hosts may be a
    # bind mount (containers), so rewrite it in place rather than replace the file.
    local hosts
    hosts=$(cat /etc/hosts)
    printf '127.0.1.1 %s %s\n%s\n' "$HOST" "$HOSTS_MARK" "$hosts" > /etc/hosts
    ADDR=$(getent ahostsv4 "$HOST" | awk 'NR == 1 {print $1}')
    [[ $ADDR == 127.* ]] || fail "$HOST still resolves to $ADDR after editing /etc/hosts (nsswitch order?)"
  fi
}

start_munge() {
  if [[ ! -s /etc/munge/munge.key ]]; then  # Debian's postinst normally makes one
    say "creating the munge key"
    install -d -o munge -g munge -m 0700 /etc/munge
    mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
  fi
  if ! running /run/munge/munged.pid; then
    install -d -o munge -g munge -m 0755 /run/munge
    say "starting munged"
    runuser -u munge -- /usr/sbin/munged
  fi
  await 15 "a munge credential round trip" bash -c 'munge -n | unmunge'
}

start_mariadb() {
  install -d -o mysql -g mysql -m 0755 /run/mysqld
  if [[ ! -d /var/lib/mysql/mysql ]]; then
    say "initialising the MariaDB data directory"
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
  fi
  if ! running /run/mysqld/mysqld.pid; then
    say "starting MariaDB (unix socket only)"
    setsid /usr/sbin/mariadbd --user=mysql --skip-networking --socket=/run/mysqld/mysqld.sock \
      --pid-file=/run/mysqld/mysqld.pid --innodb-buffer-pool-size=64M --innodb-lock-wait-timeout=900 \
      >>"$LOGS/mariadb.log" 2>&1 </dev/null &
  fi
  await 60 "MariaDB's socket" mariadb -e 'SELECT 1'
  # slurmdbd runs as the OS user slurm and logs in as that user over the socket (unix_socket
  # authentication), so there is no database password to keep anywhere.
  mariadb -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED VIA unix_socket;
              GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"
}

write_config() {  # path mode : content on stdin; returns 0 if the file changed
  local path=$1 mode=$2 tmp
  ours "$path" || fail "$path exists and was not written by this script; refusing to overwrite it"
  tmp=$(mktemp)
  { echo "$MARK"; cat; } > "$tmp"
  if [[ -f $path ]] && cmp -s "$tmp" "$path"; then rm -f "$tmp"; return 1; fi
  install -D -m "$mode" -o slurm -g slurm "$tmp" "$path"
  rm -f "$tmp"
  say "wrote $path"
}

start_slurmdbd() {
  if write_config "$DBD_CONF" 0600 <<EOF
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
CommunicationParameters=NoInAddrAny
SlurmUser=slurm
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StorageLoc=slurm_acct_db
LogFile=$LOGS/slurmdbd.log
PidFile=$RUN/slurmdbd.pid
EOF
  then halt slurmdbd "$RUN/slurmdbd.pid"; fi
  if ! running "$RUN/slurmdbd.pid"; then say "starting slurmdbd"; /usr/sbin/slurmdbd; fi
  await 30 "slurmdbd on port 6819" listening 6819
}

write_slurm_conf() {
  # The node as slurmd sees it (sockets, cores, threads, memory), so slurmd does not refuse it.
  local hw
  hw=$(slurmd -C | head -1)
  field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$hw"; }
  local mem=$(( $(field RealMemory) * 9 / 10 ))  # headroom: a node reporting less than this goes INVAL
  write_config "$CONF" 0644 <<EOF
ClusterName=$CLUSTER
SlurmctldHost=$HOST($ADDR)
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$STATE
SlurmdSpoolDir=$SPOOL
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
MpiDefault=none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
Waittime=0
NodeName=$HOST NodeAddr=$ADDR CPUs=$(field CPUs) Boards=$(field Boards) SocketsPerBoard=$(field SocketsPerBoard) CoresPerSocket=$(field CoresPerSocket) ThreadsPerCore=$(field ThreadsPerCore) RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
}

node_state() { sinfo -h -n "$HOST" -o '%t' 2>/dev/null; }

foreign_listeners() {  # listeners of our daemons on anything but loopback
  ss -Hltnp 2>/dev/null | grep -E 'slurm|mariadb|munge' | awk '{print $4}' \
    | grep -vE '^(127\.|\[::1\]|\[::ffff:127\.)' || true
}

cmd_start() {
  [[ $EUID -eq 0 ]] || fail "run as root (it installs packages and starts daemons)"
  local t0=$SECONDS
  install_packages
  resolve_host
  install -d -o slurm -g slurm -m 0755 "$STATE" "$SPOOL" "$LOGS" "$RUN"
  start_munge
  start_mariadb
  start_slurmdbd
  if write_slurm_conf; then  # a changed config: restart whatever read the old one
    halt slurmd "$RUN/slurmd.pid"
    halt slurmctld "$RUN/slurmctld.pid"
  fi
  if ! running "$RUN/slurmctld.pid"; then say "starting slurmctld"; /usr/sbin/slurmctld; fi
  await 30 "slurmctld on port 6817" listening 6817
  if ! running "$RUN/slurmd.pid"; then say "starting slurmd"; /usr/sbin/slurmd; fi
  local until=$((SECONDS + WAIT_S))
  until node_state | grep -Eq '^(idle|mix|alloc)'; do
    # ReturnToService=2 brings a node back by itself, except one drained by hand or left DOWN by an
    # earlier unclean stop; resume it once it has registered.
    if node_state | grep -Eq 'drain|down'; then scontrol update nodename="$HOST" state=resume 2>/dev/null || true; fi
    (( SECONDS < until )) || { sinfo -R >&2 || true; fail "node $HOST not idle after ${WAIT_S}s (logs in $LOGS)"; }
    sleep 0.5
  done
  local bad
  bad=$(foreign_listeners)
  if [[ -n $bad ]]; then
    say "listeners not on loopback: $bad"
    cmd_stop
    fail "a daemon listened on a non-loopback address; everything stopped"
  fi
  say "up in $((SECONDS - t0)) s: $(sinfo -h -o '%P %a %D %t %N' | tr '\n' ' ')"
}

cmd_stop() {
  local purge=${1:-}
  if running "$RUN/slurmctld.pid"; then
    local jobs
    jobs=$(squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ')
    if [[ -n ${jobs// /} ]]; then say "cancelling jobs $jobs"; scancel $jobs 2>/dev/null || true; sleep 1; fi
  fi
  halt slurmd "$RUN/slurmd.pid"
  halt slurmctld "$RUN/slurmctld.pid"
  halt slurmdbd "$RUN/slurmdbd.pid"
  if [[ $purge == --purge ]] && running /run/mysqld/mysqld.pid; then
    # Drop through SQL: deleting the directory leaves InnoDB's dictionary entries behind, and the
    # next slurmdbd start then fails with "Table ... already exists".
    say "dropping the accounting database"
    mariadb -e "DROP DATABASE IF EXISTS slurm_acct_db; DROP USER IF EXISTS 'slurm'@'localhost';" || true
  fi
  halt mariadbd /run/mysqld/mysqld.pid
  halt munged /run/munge/munged.pid
  if [[ -f /etc/hosts ]] && grep -qF "$HOSTS_MARK" /etc/hosts; then
    say "removing our line from /etc/hosts"
    # /etc/hosts may be a bind mount (containers): rewrite it in place rather than replace it
    local kept
    kept=$(grep -vF "$HOSTS_MARK" /etc/hosts)
    printf '%s\n' "$kept" > /etc/hosts
  fi
  if [[ $purge == --purge ]]; then
    say "removing state, logs and the configs this script wrote (packages and the munge key stay)"
    rm -rf "$STATE" "$SPOOL" "$LOGS" "$RUN"
    local f
    for f in "$CONF" "$DBD_CONF"; do
      if [[ -f $f ]] && ours "$f"; then rm -f "$f"; fi
    done
  fi
  say "stopped"
}

cmd_status() {
  local entry
  for entry in munged:/run/munge/munged.pid mariadbd:/run/mysqld/mysqld.pid slurmdbd:$RUN/slurmdbd.pid \
    slurmctld:$RUN/slurmctld.pid slurmd:$RUN/slurmd.pid; do
    if running "${entry#*:}"; then echo "${entry%%:*}: running (pid $(cat "${entry#*:}"))"
    else echo "${entry%%:*}: stopped"; fi
  done
  if running "$RUN/slurmctld.pid"; then sinfo; fi
  ss -Hltnp 2>/dev/null | grep -E 'slurm|mariadb|munge' || true
  # exit status: 0 only if the whole cluster is up
  running "$RUN/slurmctld.pid" && running "$RUN/slurmd.pid" && running "$RUN/slurmdbd.pid"
}

case ${1:-} in
  start) cmd_start ;;
  stop) cmd_stop "${2:-}" ;;
  status) cmd_status ;;
  *) echo "usage: $0 start | stop [--purge] | status" >&2; exit 2 ;;
esac
