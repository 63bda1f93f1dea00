#!/usr/bin/env bash
# A real single-node SLURM on this machine, and the workflow submitted to it through profiles/slurm.
#
#   sudo bash tests/slurm/run.sh            (root: installs packages, writes /etc/slurm, starts daemons)
#
# 1. apt-installs SLURM, munge, slurmdbd and MariaDB when missing (Debian's packages; no systemd needed).
# 2. Starts munged, MariaDB (unix socket only), slurmdbd, slurmctld and slurmd on 127.0.0.1, and waits
#    until the node is idle. Accounting through slurmdbd, so `sacct` (the plugin's status command) works.
#    The controller's and slurmd's state live in this run's scratch folder: a run killed midway (or a
#    machine image saved during one) leaves jobs in the saved state that a later controller would
#    recover as still running, holding the node so that nothing new ever starts.
# 3. Runs tests/slurm/config.yaml through --profile profiles/slurm with one experiment whose training
#    diverges: the failed job must be reported as failed while the other experiment completes. Then it
#    reruns with that experiment fixed: only the missing jobs may be submitted.
# 4. Stops the daemons it started, by PID (also on failure); removes its scratch folders when it passed.
# Every wait is bounded. FEATSPAN_PYTHON picks the Python with featspan, snakemake and the plugin.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
python=${FEATSPAN_PYTHON:-python3}
state=$(mktemp -d /tmp/featspan-slurm.XXXXXX)
started=()          # pid files of the daemons this script started
host=$(hostname -s)

say() { echo "[slurm-test $(date +%T)] $*"; }
fail() { echo "[slurm-test] FAILED: $*" >&2; exit 1; }

wait_for() {  # wait_for SECONDS WHAT COMMAND...: poll until COMMAND succeeds, at most SECONDS
  local limit=$1 what=$2 end=$((SECONDS + $1))
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || fail "timed out after ${limit} s waiting for ${what}"
    sleep 0.5
  done
}

stop_daemons() {
  local i pid
  for ((i = ${#started[@]} - 1; i >= 0; i--)); do           # reverse start order
    pid=$(cat "${started[i]}" 2>/dev/null || true)
    [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    [[ -n "$pid" ]] && kill -9 "$pid" 2>/dev/null || true
  done
  say "stopped ${#started[@]} daemons"
}
work=""
finish() {  # on exit: stop our daemons; keep the scratch folders only when the test failed
  local rc=$?
  stop_daemons
  if ((rc == 0)); then rm -rf "$state" ${work:+"$work"}; else say "kept $state ${work:+and $work} for inspection"; fi
}
trap finish EXIT

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_daemon() {  # start_daemon PIDFILE COMMAND...: start unless already running; remember what we started
  local pidfile=$1
  shift
  if alive "$pidfile"; then say "$(basename "$pidfile" .pid) already running"; return; fi
  "$@"
  wait_for 30 "$pidfile" alive "$pidfile"
  started+=("$pidfile")
}

# ------------------------------------------------------------------------------------------ install
[[ $(id -u) == 0 ]] || fail "run as root (it installs packages and starts daemons)"
if ! command -v slurmctld >/dev/null || ! command -v slurmdbd >/dev/null || ! command -v mariadbd >/dev/null; then
  say "installing slurm-wlm, slurmdbd, munge, mariadb-server"
  added_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then   # keep postinst scripts from starting services
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && added_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 apt-get update -qq
  timeout 600 apt-get install -y -qq --no-install-recommends slurm-wlm slurmdbd munge mariadb-server >/dev/null
  ((added_policy)) && rm -f /usr/sbin/policy-rc.d
fi

# ------------------------------------------------------------------------------------------ munge
install -d -o munge -g munge -m 0755 /run/munge
[[ -s /etc/munge/munge.key ]] || { dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null;
  chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
start_daemon /run/munge/munged.pid runuser -u munge -- /usr/sbin/munged
wait_for 20 "munge" bash -c 'munge -n | unmunge'

# ------------------------------------------------------------------------------------------ MariaDB
install -d -o mysql -g mysql /run/mysqld
[[ -d /var/lib/mysql/mysql ]] || mariadb-install-db --user=mysql >/dev/null
mariadb_start() { setsid mariadbd --user=mysql --skip-networking --pid-file=/run/mysqld/featspan.pid \
  >"$state/mariadb.log" 2>&1 < /dev/null & }
start_daemon /run/mysqld/featspan.pid mariadb_start
wait_for 60 "MariaDB" mariadb -e 'select 1'
mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
  CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'featspan';
  GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"

# ------------------------------------------------------------------------------------------ slurm
install -d /etc/slurm /run/slurm /var/log/slurm "$state/slurmctld" "$state/slurmd"
node=$(slurmd -C | head -1)   # what slurmd detects here: RealMemory above it would drain the node
bind=""
getent hosts "$host" | grep -q '^127\.' && bind="CommunicationParameters=NoCtldInAddrAny,NoInAddrAny"
cat >"$state/slurm.conf" <<CONF
ClusterName=featspan
SlurmctldHost=${host}(127.0.0.1)
AuthType=auth/munge
SlurmUser=root
StateSaveLocation=$state/slurmctld
SlurmdSpoolDir=$state/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
MpiDefault=none
ReturnToService=2
MailProg=/bin/true
MinJobAge=600
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
${bind}
${node} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
cat >"$state/slurmdbd.conf" <<CONF
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=featspan
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurm/slurmdbd.pid
CONF
stop_running() {  # stop_running DAEMON: a running daemon keeps its old configuration and state folder
  alive /run/slurm/$1.pid || return 0
  kill "$(cat /run/slurm/$1.pid)"
  wait_for 20 "$1 to stop" bash -c "! kill -0 $(cat /run/slurm/$1.pid)"
}
# slurm.conf names this run's state folder, so it is new every run: fresh slurmctld and slurmd
cp "$state/slurm.conf" /etc/slurm/slurm.conf
stop_running slurmd
stop_running slurmctld
if ! cmp -s "$state/slurmdbd.conf" /etc/slurm/slurmdbd.conf; then
  install -m 600 "$state/slurmdbd.conf" /etc/slurm/slurmdbd.conf
  stop_running slurmdbd
fi

start_daemon /run/slurm/slurmdbd.pid slurmdbd
wait_for 60 "slurmdbd" sacctmgr -n list cluster
sacctmgr -i -Q add cluster featspan >/dev/null 2>&1 || true
start_daemon /run/slurm/slurmctld.pid slurmctld
wait_for 60 "slurmctld" scontrol ping
sacctmgr -i -Q add account ci Cluster=featspan >/dev/null 2>&1 || true
sacctmgr -i -Q add user root Account=ci Cluster=featspan >/dev/null 2>&1 || true
start_daemon /run/slurm/slurmd.pid slurmd
node_ready() {
  local s
  s=$(sinfo -h -n "$host" -o %t | head -1)
  case "$s" in
    idle) return 0 ;;
    down*|drain*|drng*) scontrol update NodeName="$host" State=RESUME >/dev/null 2>&1; return 1 ;;
    *) return 1 ;;
  esac
}
wait_for 90 "the node to be idle" node_ready
say "SLURM is up: $(sinfo -h -o '%P %a %D %t')"

# ------------------------------------------------------------------------------------------ workflow
work=$(mktemp -d /tmp/featspan-slurm-work.XXXXXX)
(cd "$repo" && git ls-files -co --exclude-standard | grep -v '^results/' | tar cf - -T -) | tar xf - -C "$work"
cd "$work"
smk() {  # the workflow through the profile, against this cluster; bounded (the plugin can wait forever)
  timeout -k 10 900 "$python" -m snakemake --profile profiles/slurm \
    --default-resources slurm_account=ci slurm_partition=debug mem_mb=1000 runtime=10 \
    --slurm-init-seconds-before-status-checks 1 --jobs 4 "$@"
}

since=$(date +%Y-%m-%dT%H:%M:%S)   # this run's jobs in the accounting, not an earlier run's
say "run 1: experiment 'diverges' must fail, experiment 'ok' must complete"
cp tests/slurm/config.yaml broken.yaml
set +e
smk --configfile broken.yaml >run1.log 2>&1
rc=$?
set -e
((rc != 0)) || { tail -40 run1.log; fail "a diverging training job did not fail the run"; }
grep -q "SLURM-job '[0-9]*' failed" run1.log || { tail -40 run1.log; fail "the failed job was not reported as failed by SLURM"; }
grep -q "training diverged" results/logs/train/diverges/*.log || fail "the rule log does not say why training failed"
[[ "$(sacct -X -n -P -S "$since" -o State | grep -c FAILED)" -ge 1 ]] || fail "sacct shows no FAILED job"
for f in results/ok/summary/span.csv results/ok/summary/probe.csv; do
  [[ -s "$f" ]] || fail "$f missing: keep-going should have finished the healthy experiment"
done
ok_checkpoint=$(stat -c %Y results/ok/checkpoints/a1_r0/cohort.json)

say "run 2: experiment 'diverges' fixed; only what is missing may be submitted"
sed 's/lr: 1.0e+12}/lr: 0.003}/' tests/slurm/config.yaml >fixed.yaml
grep -q 'lr: 0.003}  # diverges' fixed.yaml || fail "could not fix the learning rate in fixed.yaml"
# the first job-stats table of a dry run (it prints two), summed over the rules that go to SLURM
expected=$(smk --configfile fixed.yaml -n 2>/dev/null | awk '$1 == "total" {done = 1} !done && $1 ~ /^(dataset|train|features|span|probe|compare)$/ {n += $2} END {print n + 0}')
smk --configfile fixed.yaml >run2.log 2>&1 || { tail -40 run2.log; fail "the rerun failed"; }
submitted=$(grep -c "has been submitted with SLURM jobid" run2.log || true)
[[ "$submitted" == "$expected" ]] || fail "rerun submitted $submitted jobs, expected the $expected missing ones"
grep -q "wildcards: exp=ok" run2.log && fail "the rerun resubmitted jobs of the finished experiment 'ok'"
[[ "$(stat -c %Y results/ok/checkpoints/a1_r0/cohort.json)" == "$ok_checkpoint" ]] || fail "'ok' was retrained"
for f in results/figures/fig1_*.png results/figures/fig3_*.png results/diverges/summary/probe.csv; do
  [[ -s "$f" ]] || fail "$f missing after the rerun"
done
say "jobs in SLURM's accounting: $(sacct -X -n -P -S "$since" -o State | sort | uniq -c | tr '\n' ' ')"
say "passed: $submitted jobs resubmitted after the failure, outputs complete"
