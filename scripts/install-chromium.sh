#!/usr/bin/env sh
# Installs headless Chromium (Debian package `chromium`) when no Chromium or Chrome is on the machine
# (GitHub's Ubuntu runners carry google-chrome); called by the demand report's test
# (tests/test_demand.py) to check the pages render. Exits 0 when a browser is there, 1 when it cannot
# install one (no apt-get, or apt-get failed).
set -eu
for bin in chromium chromium-browser google-chrome google-chrome-stable; do
  if command -v "$bin" >/dev/null 2>&1; then exit 0; fi
done
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "Installing chromium (Debian/Ubuntu package) ..."
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "No chromium found and no apt-get to install one." >&2
exit 1
