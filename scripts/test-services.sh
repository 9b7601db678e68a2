#!/usr/bin/env bash
# Makes sure what the test suite talks to is installed and running. Idempotent, and quick when all
# is there already (a few `command -v` and one pg_isready).
#   scripts/test-services.sh            install what is missing, start PostgreSQL if it is down
#   scripts/test-services.sh --missing  only print the Debian packages that are missing
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian package, and the command that shows it is installed. prometheus: the PromQL source's tests
# start their own server, and its promtool checks `vigil export prometheus-rules`; prometheus-alertmanager
# and chromium: alert ingest and browser tests.
PACKAGES=(postgresql-client:pg_isready prometheus:prometheus prometheus:promtool
          prometheus-alertmanager:prometheus-alertmanager chromium:chromium)

missing=()
for entry in "${PACKAGES[@]}"; do
  command -v "${entry#*:}" >/dev/null 2>&1 || missing+=("${entry%%:*}")
done
if [ "${1:-}" = "--missing" ]; then
  [ ${#missing[@]} -eq 0 ] || printf '%s\n' "${missing[@]}"
  exit 0
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  # Installing must not start system services (the prometheus package would start one on :9090):
  # services are denied a start for this install only, unless the machine has its own policy
  # (containers usually do). Nothing is ever stopped by name: tests use their own free ports.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod 755 "$policy"
    trap 'as_root rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  as_root apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# PostgreSQL on 127.0.0.1:5432, database "test" (trust auth).
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "starting PostgreSQL"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432
