#!/usr/bin/env bash
# tools/package-test.sh DEB_DIR: installs the Debian packages (libhearth0,
# libhearth-dev, hearth-tools) into a fresh Debian 12 root and uses them
# there, as a township office would (docs/packaging.md):
#   1. debootstrap --variant=minbase bookworm (cached as a tarball under
#      ~/.cache/hearth-package-root; every run starts from a fresh copy);
#   2. dpkg -i the three .debs, then apt-get -f install for their Depends
#      (the postinst creates the user hearth);
#   3. hearth --version, hearthd --version, the man pages, the units;
#   4. a replica made as the user hearth at the example config's path and
#      `hearthd --check-config` on the shipped example config;
#   5. a two-node sync: node A runs with the shipped config (its passphrase
#      from $CREDENTIALS_DIRECTORY, as systemd's LoadCredential= gives it),
#      node B dials A; a record written on A reaches B.
# Needs root (debootstrap, chroot, mount) and the network (the Debian
# mirror of /etc/apt). Not for CI: ./hearth.sh package-test runs it.
# Exit status: 0 all passed, 1 a check failed, 2 setup failed.
set -uo pipefail

debs=${1:?usage: package-test.sh DEB_DIR}
debs=$(cd "$debs" && pwd)
[[ $(id -u) -eq 0 ]] || { echo "package-test: run as root (debootstrap, chroot)" >&2; exit 2; }
compgen -G "$debs/*.deb" >/dev/null || { echo "package-test: no .deb in $debs" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "package-test: apt-get install debootstrap" >&2; exit 2; }

cache=${XDG_CACHE_HOME:-$HOME/.cache}/hearth-package-root
mkdir -p "$cache"
base=$cache/root.tar
uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
[[ -n "$uri" ]] || uri=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
[[ -n "$uri" ]] || uri=http://deb.debian.org/debian

say() { printf 'package-test: %s\n' "$*"; }
if [[ ! -f $base ]]; then
  say "debootstrap bookworm minbase from $uri (once; cached in $base)"
  rm -rf "$cache/build"
  if ! timeout 1200 debootstrap --variant=minbase bookworm "$cache/build" "$uri" >"$cache/debootstrap.log" 2>&1; then
    echo "package-test: debootstrap failed (see $cache/debootstrap.log)" >&2
    exit 2
  fi
  cp /etc/apt/sources.list.d/*.sources "$cache/build/etc/apt/sources.list.d/" 2>/dev/null
  cp /etc/apt/apt.conf.d/* "$cache/build/etc/apt/apt.conf.d/" 2>/dev/null
  cp /etc/resolv.conf "$cache/build/etc/resolv.conf"
  tar -C "$cache/build" -cf "$base" . && rm -rf "$cache/build"
fi

root=$(mktemp -d /tmp/hearth-package-root.XXXXXX)
cleanup() {
  # Daemons started in the chroot (their pids are in the root's /run).
  local p
  for p in "$root"/run/hearth-test-*.pid; do
    [[ -f $p ]] && kill "$(cat "$p")" 2>/dev/null
  done
  sleep 1
  umount "$root/proc" 2>/dev/null
  umount -R "$root/dev" 2>/dev/null
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT
tar -C "$root" -xf "$base"
mkdir -p "$root/tmp/debs"
cp "$debs"/*.deb "$root/tmp/debs/"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"

# Two free loopback ports for each node (listen) and A's metrics.
ports=($(python3 -c 'import socket
ss=[socket.socket() for _ in range(3)]
[s.bind(("127.0.0.1",0)) for s in ss]
print(" ".join(str(s.getsockname()[1]) for s in ss))'))

cat >"$root/tmp/inside.sh" <<'INSIDE'
#!/bin/bash
# Runs inside the chroot; PA, PB (listen ports of A and B) and MA (A's
# metrics port) come from the environment.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
step() { printf '\n==== %s\n' "$*"; }
PASS='township office passphrase'
as_hearth() { runuser -u hearth -- env HEARTH_PASSPHRASE="$PASS" "$@"; }

step "dpkg -i (dependencies missing on a fresh root: expected to leave them unconfigured)"
dpkg -i /tmp/debs/*.deb || true
step "apt-get update && apt-get -f install"
apt-get update -qq
apt-get -f install -y -qq --no-install-recommends >/tmp/apt.log 2>&1 || { tail -20 /tmp/apt.log; exit 1; }
dpkg-query -W -f='${Package} ${Version} ${db:Status-Status}\n' libhearth0 libhearth-dev hearth-tools

step "versions, man pages, units, user"
hearth --version
hearthd --version
ls -l /usr/share/man/man1/hearth.1.gz /usr/share/man/man8/hearthd.8.gz
zcat /usr/share/man/man8/hearthd.8.gz >/tmp/hearthd.8 && grep -q 'CREDENTIALS_DIRECTORY' /tmp/hearthd.8
ls /usr/lib/systemd/system/hearthd.service /usr/lib/systemd/system/hearthd@.service /usr/lib/sysusers.d/hearth.conf
ls /usr/share/hearth/schemas/county.toml /usr/share/hearth/policies/county.toml
getent passwd hearth
ldd /usr/bin/hearthd | grep libhearth

step "a replica as the user hearth at the example config's path; --check-config on the shipped example"
mkdir -p /etc/hearth
cp /usr/share/doc/hearth-tools/examples/hearthd.toml /etc/hearth/hearthd.toml
sed -i "s|tcp://127.0.0.1:7400|tcp://127.0.0.1:$PA|; s|127.0.0.1:9400|127.0.0.1:$MA|" /etc/hearth/hearthd.toml
printf '%s\n' "$PASS" >/etc/hearth/passphrase
chmod 0600 /etc/hearth/passphrase
as_hearth hearth init /var/lib/hearth/node --schema /usr/share/hearth/schemas/county.toml
hearthd --check-config /usr/share/doc/hearth-tools/examples/hearthd.toml
hearthd --check-config /etc/hearth/hearthd.toml

step "node B: a second replica that dials A"
KA=$(as_hearth hearth -C /var/lib/hearth/node whoami)
runuser -u hearth -- hearth init /var/lib/hearth/b --schema /usr/share/hearth/schemas/county.toml --unencrypted-identity
as_hearth hearth -C /var/lib/hearth/node keys new --all
as_hearth hearth -C /var/lib/hearth/node keys export /tmp/a.keys
chmod 0644 /tmp/a.keys
runuser -u hearth -- hearth -C /var/lib/hearth/b keys import /tmp/a.keys
cat >/etc/hearth/b.toml <<BTOML
replica = "/var/lib/hearth/b"
listen = "tcp://127.0.0.1:$PB"
unencrypted_identity = true
[[peers]]
name = "node A"
endpoint = "tcp://127.0.0.1:$PA"
key = "$KA"
BTOML
hearthd --check-config /etc/hearth/b.toml

step "start A (its passphrase as a systemd credential) and B"
mkdir -p /run/credentials/hearthd.service
cp /etc/hearth/passphrase /run/credentials/hearthd.service/passphrase
chown hearth /run/credentials/hearthd.service/passphrase
runuser -u hearth -- env CREDENTIALS_DIRECTORY=/run/credentials/hearthd.service \
  hearthd --config /etc/hearth/hearthd.toml >/tmp/a.log 2>&1 &
echo $! >/run/hearth-test-a.pid
runuser -u hearth -- hearthd --config /etc/hearth/b.toml >/tmp/b.log 2>&1 &
echo $! >/run/hearth-test-b.pid

step "a record written on A reaches B"
ID=$(as_hearth hearth -C /var/lib/hearth/node put worker 'name=Li Ming' 'township=城厢镇' 'phone=13800000000' | head -1)
echo "record $ID written on A"
digest() { as_hearth hearth -C "$1" digest; }
ok=0
for i in $(seq 1 60); do
  if [ "$(digest /var/lib/hearth/node)" = "$(digest /var/lib/hearth/b)" ]; then ok=1; break; fi
  sleep 1
done
runuser -u hearth -- hearth -C /var/lib/hearth/b get worker "$ID" || true
echo "---- A log"; tail -n 12 /tmp/a.log
echo "---- B log"; tail -n 12 /tmp/b.log
[ $ok = 1 ] || { echo "FAILED: B did not converge with A within 60 s"; exit 1; }
runuser -u hearth -- hearth -C /var/lib/hearth/b get worker "$ID" | grep -q 'Li Ming' || { echo "FAILED: B has not the record"; exit 1; }
echo "converged after $i s: digest $(digest /var/lib/hearth/b); B reads record $ID"
kill "$(cat /run/hearth-test-a.pid)" "$(cat /run/hearth-test-b.pid)"
wait || true
rm -f /run/hearth-test-*.pid
step "all checks passed"
INSIDE
chmod +x "$root/tmp/inside.sh"

say "root $root; packages: $(cd "$debs" && echo *.deb)"
chroot "$root" /usr/bin/env PA="${ports[0]}" PB="${ports[1]}" MA="${ports[2]}" /tmp/inside.sh
rc=$?
if [[ $rc -eq 0 ]]; then say "PASSED ($(date -u +%Y-%m-%dT%H:%MZ))"; else say "FAILED (exit $rc)"; rc=1; fi
exit $rc
