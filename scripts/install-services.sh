#!/usr/bin/env bash
# Installs what the integration tests start (tests/run.ts): PostgreSQL 15 and a Ceph mon, OSD
# and radosgw, from Debian's packages, and openssl (the harness makes Postgres a TLS certificate). Idempotent and quiet when everything is present.
set -euo pipefail

missing=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(/usr/lib/postgresql/15/bin/initdb)
for program in radosgw radosgw-admin ceph-mon ceph-osd monmaptool ceph openssl; do
  command -v "$program" >/dev/null 2>&1 || missing+=("$program")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

echo "install-services: missing ${missing[*]}; installing postgresql-15 ceph-mon ceph-osd radosgw openssl" >&2
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "install-services: not root and no sudo: install postgresql-15 ceph-mon ceph-osd radosgw" >&2
    exit 1
  fi
fi

# The tests start their own throwaway server: keep postgresql-15 from creating (and starting)
# the system-wide "15/main" cluster (a drop-in read by postgresql-common's createcluster.conf).
if [ ! -e /etc/postgresql-common/createcluster.d/no-main-cluster.conf ] && [ ! -d /etc/postgresql/15 ]; then
  "${sudo[@]}" mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" |
    "${sudo[@]}" tee /etc/postgresql-common/createcluster.d/no-main-cluster.conf >/dev/null
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  postgresql-15 ceph-mon ceph-osd radosgw openssl
