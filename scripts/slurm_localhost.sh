#!/usr/bin/env bash
# A single-node Slurm cluster with accounting on this machine, for the grid's Slurm tests (and for trying
# `--executor slurm` without a cluster). Needs root and Debian's packages. Idempotent: a second call restarts the
# daemons on a wiped state. `scripts/slurm_localhost.sh stop` stops them.
#   slurmctld + slurmd (one node = this machine, all its CPUs, 90 % of its memory), munge for authentication,
#   slurmdbd + MariaDB for accounting: submitit polls `sacct`, and without it a cancelled job's result never
#   comes (its `job.result()` waits forever).
set -euo pipefail
STATE=/var/lib/harness-slurm
stop() {
  pkill -x slurmd || true; pkill -x slurmctld || true; pkill -x slurmdbd || true
  pkill -x mariadbd || true; pkill -x munged || true; sleep 1
}
if [ "${1:-}" = stop ]; then stop; exit 0; fi

if ! command -v slurmctld >/dev/null || ! command -v slurmdbd >/dev/null || ! command -v mariadbd >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends slurmctld slurmd slurm-client munge slurmdbd \
      mariadb-server-core mariadb-client-core >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends slurmctld slurmd \
         slurm-client munge slurmdbd mariadb-server-core mariadb-client-core >/dev/null; }
  # the packages register themselves to start at boot: not on a machine that only tests
  for s in munge slurmctld slurmd slurmdbd mariadb; do update-rc.d -f "$s" remove >/dev/null 2>&1 || true; done
fi
stop
rm -rf "$STATE" && mkdir -p "$STATE"/{ctld,d,log,db,run} /run/munge /etc/slurm
HOST=$(hostname)
CPUS=$(nproc)
MEM=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) * 9 / 10240 ))

# munge (the key comes with the package; make one if missing)
[ -s /etc/munge/munge.key ] || { dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; }
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
chmod 400 /etc/munge/munge.key
runuser -u munge -- /usr/sbin/munged --force

# MariaDB for slurmdbd, on a socket and port of its own (the -core packages make no mysql user: run as root)
mariadb-install-db --user=root --datadir="$STATE/db" --auth-root-authentication-method=normal >/dev/null 2>&1
mariadbd --user=root --datadir="$STATE/db" --socket="$STATE/run/mysqld.sock" --skip-networking=0 \
  --bind-address=127.0.0.1 --port=3307 --pid-file="$STATE/run/mysqld.pid" >"$STATE/log/mysqld.log" 2>&1 &
for _ in $(seq 60); do [ -S "$STATE/run/mysqld.sock" ] && break; sleep 0.5; done
mariadb --socket="$STATE/run/mysqld.sock" -uroot -e \
  "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
   CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm'; CREATE DATABASE IF NOT EXISTS slurm_acct_db;
   GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
   FLUSH PRIVILEGES;"

cat > /etc/slurm/slurmdbd.conf <<CONF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=3307
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
PidFile=$STATE/run/slurmdbd.pid
LogFile=$STATE/log/slurmdbd.log
CONF
chmod 600 /etc/slurm/slurmdbd.conf

cat > /etc/slurm/slurm.conf <<CONF
ClusterName=harness
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
KillWait=5
MailProg=/bin/true
ReturnToService=2
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF

slurmdbd
for _ in $(seq 120); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 0.5; done
sacctmgr -n list cluster >/dev/null || { echo "slurmdbd did not come up: $STATE/log/slurmdbd.log" >&2; exit 1; }
sacctmgr -i add cluster harness >/dev/null 2>&1 || true
slurmctld -c            # -c: a clean state (job ids restart at 1; hence one submitit folder per grid)
slurmd
for _ in $(seq 60); do sinfo -h -o %T 2>/dev/null | grep -qE "idle|mixed" && break; sleep 0.5; done
sinfo
