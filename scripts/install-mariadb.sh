#!/usr/bin/env sh
# Installs MariaDB server binaries when none is on the machine (used by `make setup`).
# The package's system service is never used: the project runs its own server.
# tzdata: the time zones the server's time-zone tables are loaded from (convert_tz with 'Europe/Berlin').
set -eu
have_server=""
for bin in mariadbd mysqld /usr/sbin/mariadbd /usr/sbin/mysqld; do
  if command -v "$bin" >/dev/null 2>&1; then have_server=1; fi
done
if [ -n "$have_server" ] && [ -e /usr/share/zoneinfo/Europe/Berlin ]; then exit 0; fi
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "Installing mariadb-server and tzdata (Debian/Ubuntu packages) ..."
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mariadb-server mariadb-client tzdata >/dev/null
  exit 0
fi
if [ -n "$have_server" ]; then
  echo "No tz database in /usr/share/zoneinfo: named time zones will not be loaded into MariaDB." >&2
  exit 0
fi
echo "No MariaDB server found and no apt-get to install one." >&2
echo "Install MariaDB 10.11 or newer (e.g. 'brew install mariadb' or your distribution's mariadb-server) and re-run." >&2
exit 1
