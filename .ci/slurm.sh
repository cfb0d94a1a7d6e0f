#!/usr/bin/env bash
# A real single-node SLURM cluster for CI and the slurm-marked tests.
#
#   bash .ci/slurm.sh start     install (apt, only what is missing) and start the daemons; idempotent
#   eval "$(bash .ci/slurm.sh env)"   export SLURM_CONF (and SLURM_DIR) for sbatch/squeue/sacct/submitit
#   bash .ci/slurm.sh status    which of our daemons run, plus sinfo
#   bash .ci/slurm.sh stop      cancel our jobs, then stop only the daemons started here (our pidfiles)
#
# Everything (config, state, spool, logs, munge socket, MariaDB datadir) lives under $SLURM_DIR
# (default /tmp/avf-slurm); nothing is written to /etc/slurm or /etc/mysql. Settings:
#   SLURM_DIR=/tmp/avf-slurm   SLURM_ACCOUNTING=1 (0: no slurmdbd/MariaDB; submitit states then stay UNKNOWN)
#   SLURM_CLUSTER=localci      SLURM_PARTITION=debug   SLURM_ACCOUNT=avf   SLURM_DB_PORT=3307
# Facts this follows (measured on the project's Debian 12 VM) are in shared/notes/environment.md §3:
# task/none (no cgroups), munged as user munge, slurmdbd reads slurmdbd.conf (mode 600) beside $SLURM_CONF,
# the database server is started with setsid and ALL stdio redirected (else a caller's $(...) hangs).
set -euo pipefail

SLURM_DIR=${SLURM_DIR:-/tmp/avf-slurm}
ACCOUNTING=${SLURM_ACCOUNTING:-1}
CLUSTER=${SLURM_CLUSTER:-localci}
PARTITION=${SLURM_PARTITION:-debug}
ACCOUNT=${SLURM_ACCOUNT:-avf}
DB_PORT=${SLURM_DB_PORT:-3307}
DB_NAME=slurm_acct_db
DB_USER=slurm
DB_PASS=avf-ci-slurmdbd
NODE=$(hostname -s)
CONF=$SLURM_DIR/slurm.conf
DBD_CONF=$SLURM_DIR/slurmdbd.conf
MUNGE_SOCKET=$SLURM_DIR/munge/munge.socket
MY_CNF=$SLURM_DIR/mysql/my.cnf
PIDS=$SLURM_DIR/pids
LOGS=$SLURM_DIR/log

log() { echo "[slurm.sh] $*" >&2; }
die() { echo "[slurm.sh] ERROR: $*" >&2; exit 1; }

# ---------------------------------------------------------------- install
need_packages() {
  local pkgs=(slurm-wlm munge) missing=()
  [[ $ACCOUNTING == 1 ]] && pkgs+=(slurmdbd mariadb-server)
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  echo "${missing[@]}"
}

install() {
  local missing
  missing=$(need_packages)
  [[ -z $missing ]] && return 0
  log "apt-get install $missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >"$SLURM_DIR/apt.log" 2>&1 || { tail -20 "$SLURM_DIR/apt.log" >&2; die "apt-get update failed"; }
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >>"$SLURM_DIR/apt.log" 2>&1 \
    || { tail -20 "$SLURM_DIR/apt.log" >&2; die "apt-get install failed (log: $SLURM_DIR/apt.log)"; }
}

# The daemons' system users come with the packages; a machine whose /etc/passwd lost them (an image rebuilt from
# files, a container that kept the packages but not the accounts) gets them back, with the ids that own their files.
ensure_user() {  # ensure_user NAME DIR_OWNED_BY_IT
  local name=$1 dir=$2 uid args=(--system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin)
  id -u "$name" >/dev/null 2>&1 && return 0
  uid=$(stat -c %u "$dir" 2>/dev/null || true)
  [[ -n $uid && $uid != 0 ]] && ! getent passwd "$uid" >/dev/null && args+=(--uid "$uid")
  if getent group "$name" >/dev/null; then args+=(--gid "$name"); else args+=(--user-group); fi
  log "system user $name missing; creating it (${args[*]})"
  useradd "${args[@]}" "$name" || die "could not create system user $name"
}

# ---------------------------------------------------------------- pid helpers
# alive NAME -> 0 when pids/NAME.pid names a live process whose command matches NAME
alive() {
  local f=$PIDS/$1.pid pid
  [[ -s $f ]] || return 1
  pid=$(cat "$f")
  [[ -d /proc/$pid ]] || return 1
  grep -qa -- "$2" "/proc/$pid/cmdline" 2>/dev/null
}

wait_for() {  # wait_for SECONDS DESCRIPTION CMD...
  local t=$1 what=$2; shift 2
  local end=$((SECONDS + t))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || return 1
    sleep 0.2
  done
}

kill_pidfile() {  # kill_pidfile NAME PATTERN TIMEOUT
  local name=$1 pat=$2 t=${3:-15} pid
  if alive "$name" "$pat"; then
    pid=$(cat "$PIDS/$name.pid")
    kill -TERM "$pid" 2>/dev/null || true
    local end=$((SECONDS + t))
    while [[ -d /proc/$pid ]] && ((SECONDS < end)); do sleep 0.2; done
    if [[ -d /proc/$pid ]]; then log "$name ($pid) did not exit; SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
    log "stopped $name ($pid)"
  fi
  rm -f "$PIDS/$name.pid"
}

# ---------------------------------------------------------------- config
write_config() {
  local cpus mem
  # slurmd -C prints what slurmd detects on this host ("... CPUs=2 ... RealMemory=24105").
  cpus=$(slurmd -C 2>/dev/null | grep -o 'CPUs=[0-9]*' | head -1 | cut -d= -f2 || true)
  mem=$(slurmd -C 2>/dev/null | grep -o 'RealMemory=[0-9]*' | head -1 | cut -d= -f2 || true)
  [[ -n $cpus ]] || cpus=$(nproc)
  [[ -n $mem ]] || mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024))
  mem=$((mem * 92 / 100))  # leave room for the OS, or slurmd marks the node invalid on a busy host
  local acct_lines="AccountingStorageType=accounting_storage/none"
  if [[ $ACCOUNTING == 1 ]]; then
    acct_lines="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=6819
# the munge socket for connections to slurmdbd (slurmctld, sacct, sacctmgr); AuthInfo does not cover them
AccountingStoragePass=$MUNGE_SOCKET"
  fi
  cat >"$CONF" <<EOF
# written by .ci/slurm.sh; do not edit (regenerated on every start)
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
AuthType=auth/munge
CredType=cred/munge
# cred_expire also sets how long a requeued job waits before it may start again (default 120 s)
AuthInfo=socket=$MUNGE_SOCKET,cred_expire=5
SlurmUser=root
SlurmdUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
$acct_lines
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
MinJobAge=300
JobRequeue=1
# a short SIGTERM->SIGKILL grace and a 2 s scheduler loop keep requeue/cancel tests fast
KillWait=5
SchedulerParameters=sched_interval=2,bf_interval=2
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool
SlurmctldPidFile=$PIDS/slurmctld.pid
SlurmdPidFile=$PIDS/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
  if [[ $ACCOUNTING == 1 ]]; then
    (umask 077; cat >"$DBD_CONF" <<EOF
# written by .ci/slurm.sh; slurmdbd reads it from the folder of \$SLURM_CONF
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=root
PidFile=$PIDS/slurmdbd.pid
LogFile=$LOGS/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=$DB_USER
StoragePass=$DB_PASS
StorageLoc=$DB_NAME
EOF
    )
    chmod 600 "$DBD_CONF"
  fi
}

# ---------------------------------------------------------------- daemons
start_munge() {
  alive munged munged && return 0
  local key=/etc/munge/munge.key
  if [[ ! -s $key ]]; then
    log "creating $key"
    mungekey --create --keyfile="$key" && chown munge:munge "$key" && chmod 600 "$key"
  fi
  mkdir -p "$SLURM_DIR/munge"
  chown munge:munge "$SLURM_DIR/munge"; chmod 755 "$SLURM_DIR/munge"
  rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock"
  runuser -u munge -- munged --socket="$MUNGE_SOCKET" --pid-file="$SLURM_DIR/munge/munged.pid" \
    --log-file="$SLURM_DIR/munge/munged.log" --seed-file="$SLURM_DIR/munge/munged.seed" \
    </dev/null >/dev/null 2>&1 || die "munged failed: $(tail -3 "$SLURM_DIR/munge/munged.log" 2>/dev/null)"
  wait_for 10 "munged pidfile" test -s "$SLURM_DIR/munge/munged.pid" || die "munged wrote no pidfile"
  cp "$SLURM_DIR/munge/munged.pid" "$PIDS/munged.pid"
  wait_for 10 munge bash -c "munge -S '$MUNGE_SOCKET' -n | unmunge -S '$MUNGE_SOCKET'" || die "munge does not answer"
  log "munged up ($(cat "$PIDS/munged.pid"))"
}

mysql_client() { mariadb --defaults-file="$MY_CNF" -uroot "$@"; }

start_mysql() {
  local d=$SLURM_DIR/mysql
  if ! alive mysqld mariadbd; then
    mkdir -p "$d"
    cat >"$MY_CNF" <<EOF
[client]
socket=$d/mysqld.sock
[mysqld]
user=mysql
datadir=$d/data
socket=$d/mysqld.sock
pid-file=$d/mysqld.pid
log-error=$d/mysqld.log
port=$DB_PORT
bind-address=127.0.0.1
skip-name-resolve
innodb_buffer_pool_size=128M
innodb_log_file_size=64M
innodb_lock_wait_timeout=900
EOF
    chown -R mysql:mysql "$d"
    if [[ ! -d $d/data/mysql ]]; then
      log "initialising MariaDB datadir $d/data"
      mariadb-install-db --defaults-file="$MY_CNF" --skip-test-db >"$LOGS/mysql-install.log" 2>&1 \
        || { tail -20 "$LOGS/mysql-install.log" >&2; die "mariadb-install-db failed"; }
    fi
    # setsid + every stdio stream redirected: an inherited stdout would keep `$(slurm.sh start)` open forever
    setsid /usr/sbin/mariadbd --defaults-file="$MY_CNF" </dev/null >>"$LOGS/mysqld.out" 2>&1 &
    disown || true
  fi
  # mariadbd runs as user mysql, so its pid and log files live in its own folder; we copy the pid to $PIDS
  wait_for 60 mysqld mysql_client -e "select 1" || { tail -20 "$d/mysqld.log" >&2; die "MariaDB did not start"; }
  cp "$d/mysqld.pid" "$PIDS/mysqld.pid"
  mysql_client <<EOF
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON $DB_NAME.* TO '$DB_USER'@'127.0.0.1';
GRANT ALL ON $DB_NAME.* TO '$DB_USER'@'localhost';
FLUSH PRIVILEGES;
EOF
  log "MariaDB up ($(cat "$PIDS/mysqld.pid"), port $DB_PORT)"
}

start_slurmdbd() {
  if ! alive slurmdbd slurmdbd; then
    SLURM_CONF=$CONF slurmdbd </dev/null >>"$LOGS/slurmdbd.out" 2>&1 || die "slurmdbd failed: $(tail -5 "$LOGS/slurmdbd.log")"
  fi
  wait_for 30 slurmdbd env SLURM_CONF="$CONF" sacctmgr -n list cluster \
    || { tail -20 "$LOGS/slurmdbd.log" >&2; die "slurmdbd does not answer"; }
  # register before slurmctld connects, so its first registration succeeds
  if ! SLURM_CONF=$CONF sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER"; then
    SLURM_CONF=$CONF sacctmgr -i add cluster "$CLUSTER" >/dev/null
  fi
  log "slurmdbd up ($(cat "$PIDS/slurmdbd.pid"))"
}

register_accounts() {
  local user; user=$(id -un)
  export SLURM_CONF=$CONF
  sacctmgr -n -P list account format=account | grep -qx "$ACCOUNT" \
    || sacctmgr -i add account "$ACCOUNT" cluster="$CLUSTER" description="avfmae ci" organization=avf >/dev/null
  sacctmgr -n -P list user format=user | grep -qx "$user" \
    || sacctmgr -i add user "$user" account="$ACCOUNT" cluster="$CLUSTER" defaultaccount="$ACCOUNT" >/dev/null
}

start_slurmctld() {
  if ! alive slurmctld slurmctld; then
    slurmctld -f "$CONF" </dev/null >>"$LOGS/slurmctld.out" 2>&1 || die "slurmctld failed: $(tail -5 "$LOGS/slurmctld.log")"
  fi
  wait_for 30 slurmctld env SLURM_CONF="$CONF" scontrol ping || { tail -20 "$LOGS/slurmctld.log" >&2; die "slurmctld does not answer"; }
  log "slurmctld up ($(cat "$PIDS/slurmctld.pid"))"
}

start_slurmd() {
  if ! alive slurmd slurmd; then
    slurmd -f "$CONF" -N "$NODE" </dev/null >>"$LOGS/slurmd.out" 2>&1 || die "slurmd failed: $(tail -5 "$LOGS/slurmd.log")"
  fi
  node_ready() { SLURM_CONF=$CONF sinfo -h -n "$NODE" -o %T | grep -Eq '^(idle|mixed|allocated|completing)'; }
  wait_for 30 "node ready" node_ready || { tail -20 "$LOGS/slurmd.log" >&2; SLURM_CONF=$CONF sinfo -N -l >&2; die "node $NODE not idle"; }
  log "slurmd up ($(cat "$PIDS/slurmd.pid")); node $NODE $(SLURM_CONF=$CONF sinfo -h -n "$NODE" -o '%T cpus=%c mem=%m')"
}

cmd_start() {
  local t0=$SECONDS fresh=0
  [[ $(id -u) == 0 ]] || die "start needs root (daemons run as root/munge/mysql; meant for CI containers and VMs)"
  mkdir -p "$SLURM_DIR" "$PIDS" "$LOGS" "$SLURM_DIR/spool"
  install
  ensure_user munge /etc/munge
  [[ $ACCOUNTING == 1 ]] && ensure_user mysql /var/lib/mysql
  [[ -d $SLURM_DIR/state ]] || fresh=1
  mkdir -p "$SLURM_DIR/state"
  write_config
  start_munge
  if [[ $ACCOUNTING == 1 ]]; then
    start_mysql
    if [[ $fresh == 1 ]]; then
      # job ids restart at 1 with a new state dir; old accounting rows would make `sacct -j 1` ambiguous
      mysql_client -e "DROP DATABASE IF EXISTS $DB_NAME"
      kill_pidfile slurmdbd slurmdbd 10
    fi
    start_slurmdbd
  fi
  start_slurmctld
  [[ $ACCOUNTING == 1 ]] && register_accounts
  start_slurmd
  log "cluster $CLUSTER ready in $((SECONDS - t0)) s; now run: eval \"\$(bash $0 env)\""
}

cmd_stop() {
  if [[ -f $CONF ]] && alive slurmctld slurmctld; then
    SLURM_CONF=$CONF scancel --full --user="$(id -un)" 2>/dev/null || true
    wait_for 15 "jobs gone" bash -c "[[ -z \$(SLURM_CONF='$CONF' squeue -h -t R,CG 2>/dev/null) ]]" || true
  fi
  kill_pidfile slurmd slurmd 15
  kill_pidfile slurmctld slurmctld 15
  kill_pidfile slurmdbd slurmdbd 15
  kill_pidfile mysqld mariadbd 30
  kill_pidfile munged munged 10
}

cmd_env() {
  echo "export SLURM_DIR=$SLURM_DIR"
  echo "export SLURM_CONF=$CONF"
}

cmd_status() {
  local rc=0 n p
  for n in munged:munged mysqld:mariadbd slurmdbd:slurmdbd slurmctld:slurmctld slurmd:slurmd; do
    p=${n#*:}; n=${n%%:*}
    if alive "$n" "$p"; then echo "$n: running ($(cat "$PIDS/$n.pid"))"
    elif [[ $n == mysqld || $n == slurmdbd ]] && [[ $ACCOUNTING != 1 ]]; then echo "$n: not used"
    else echo "$n: stopped"; rc=1; fi
  done
  if [[ -f $CONF ]] && alive slurmctld slurmctld; then SLURM_CONF=$CONF sinfo -N -o '%N %P %T %c %m' || true; fi
  return $rc
}

case ${1:-} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  env) cmd_env ;;
  status) cmd_status ;;
  restart) cmd_stop; cmd_start ;;
  *) echo "usage: $0 {start|stop|env|status|restart}" >&2; exit 2 ;;
esac
