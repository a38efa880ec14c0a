#!/usr/bin/env sh
# Installs MariaDB server binaries when none is on the machine (used by `make setup`).
# The package's system service is never used: the project runs its own server.
set -eu
for bin in mariadbd mysqld /usr/sbin/mariadbd /usr/sbin/mysqld; do
  if command -v "$bin" >/dev/null 2>&1; then exit 0; fi
done
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "Installing mariadb-server (Debian/Ubuntu package) ..."
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mariadb-server mariadb-client >/dev/null
  exit 0
fi
echo "No MariaDB server found and no apt-get to install one." >&2
echo "Install MariaDB 10.11 or newer (e.g. 'brew install mariadb' or your distribution's mariadb-server) and re-run." >&2
exit 1
