#!/usr/bin/env bash
# Installs Debian's headless Chromium (used to check that the run report renders) when it
# is missing. Needs root (CI and dev machines run as root); otherwise says what to run.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != "0" ]; then
  echo "chromium not found; install it with: sudo apt-get install -y chromium (the render test will skip)" >&2
  exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
