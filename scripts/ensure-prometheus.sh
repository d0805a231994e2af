#!/usr/bin/env bash
# Makes sure Debian's prometheus package (prometheus and promtool) is installed, for the tests that run a real
# Prometheus and promtool. Installing must not start it as a service: the tests run the binary themselves, on a free
# port with a temporary config and storage. Idempotent; needs root (or sudo) only to install. About 12 s.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

echo "prometheus: installing Debian's prometheus package (not started as a service)"
# invoke-rc.d asks policy-rc.d whether it may start a service; 101 says no. Only added when there is none already.
policy=/usr/sbin/policy-rc.d
added_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod +x "$policy"
  added_policy=1
fi
cleanup() { if [ -n "$added_policy" ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT

$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
# Without systemd nothing starts it; where systemd runs, the unit is stopped and kept from starting at boot.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
command -v promtool >/dev/null
