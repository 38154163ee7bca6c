#!/usr/bin/env bash
# The test command: makes sure a nats-server binary exists (tests start their
# own servers from it) and Chromium (the browser tests drive it with
# playwright-core: test/helpers/chromium.ts), then runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v "${NATS_SERVER_BIN:-nats-server}" >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "nats-server not found: installing Debian's package with apt-get" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
  else
    echo "nats-server not found. Install it (Debian/Ubuntu: sudo apt-get install nats-server;" >&2
    echo "elsewhere: the nats-server release for your platform)" >&2
    echo "or point NATS_SERVER_BIN at the binary, then run npm test again." >&2
    exit 1
  fi
fi

if [ ! -x "${JETQ_CHROMIUM:-/usr/bin/chromium}" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "chromium not found: installing Debian's package with apt-get" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "${JETQ_CHROMIUM:-/usr/bin/chromium} not found. Install it (Debian/Ubuntu: sudo apt-get install chromium)" >&2
    echo "or point JETQ_CHROMIUM at a Chromium binary, then run npm test again." >&2
    exit 1
  fi
fi

exec npx vitest run "$@"
