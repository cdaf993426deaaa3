#!/usr/bin/env bash
# Make PostgreSQL's initdb and pg_ctl available for the distributed-study tests (idempotent).
# The tests start and stop their own throwaway cluster; this only installs the binaries.
set -euo pipefail

have_initdb() {
  command -v initdb >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

if have_initdb; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo ".ci/postgres.sh: initdb missing and not root; install Debian's postgresql package" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends postgresql
have_initdb
