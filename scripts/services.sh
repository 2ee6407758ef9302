#!/usr/bin/env bash
# Makes sure the local services the tests talk to are up: PostgreSQL on
# 127.0.0.1:5432 and Redis on 127.0.0.1:6379. Starts whichever is down, using the
# machine's own packages; installs them with apt when they are missing.
set -euo pipefail

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 50); do up "$1" && return 0; sleep 0.2; done
  echo "services: nothing answers on 127.0.0.1:$1 after 10 s" >&2
  return 1
}

if ! up 5432; then
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -q postgresql >/dev/null
  fi
  ver=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  wait_port 5432
fi

if ! up 6379; then
  if ! command -v redis-server >/dev/null 2>&1; then
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -q redis-server >/dev/null
  fi
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_port 6379
fi
echo "services: postgresql 127.0.0.1:5432 and redis 127.0.0.1:6379 are up"
