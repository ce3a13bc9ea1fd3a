#!/usr/bin/env bash
# Install what a fresh Debian/Ubuntu machine lacks, then create .venv with edgecam and its extras.
# Used by scripts/quickstart.sh, scripts/test.sh and .ci/run, so every entry point installs the same way.
# Usage: bash scripts/setup_env.sh [EXTRAS]   (default EXTRAS: dev)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-dev}"

apt_need=()
if [ "$extras" = "dev" ]; then
  command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || apt_need+=(mosquitto)
  command -v openssl >/dev/null 2>&1 || apt_need+=(openssl)
  command -v systemd-analyze >/dev/null 2>&1 || apt_need+=(systemd)
  # the printing tests start their own cupsd with a cups-pdf and a network (socket) queue
  [ -x /usr/sbin/cupsd ] || apt_need+=(cups)
  command -v lpstat >/dev/null 2>&1 || apt_need+=(cups-client)
  [ -x /usr/lib/cups/backend/cups-pdf ] || apt_need+=(printer-driver-cups-pdf)
fi
python3 -c "import venv, ensurepip" 2>/dev/null || apt_need+=(python3-venv)
if [ ${#apt_need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "installing system packages: ${apt_need[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_need[@]}" >/dev/null
  # The Debian package starts a system broker on :1883; the tests start their own on free ports.
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".[$extras]"
