#!/bin/sh
# The Debian packages installed for real, in a throwaway copy of this system: a private mount and
# network namespace, an overlay of / on a tmpfs, and a chroot into it, where dpkg runs the
# maintainer scripts. Checks that the postinst creates the system user reglo and gives it
# /var/lib/reglo; that the installed hub runs as reglo with the installed /etc/reglo/hub.json,
# unchanged (migrate, serve with the admin listener on its packaged port, the token answered);
# that a reinstall keeps an edited conffile; that remove keeps the data and purge deletes it. The
# host's own /, users and dpkg database are never written (everything lands in the tmpfs).
# Needs root and unshare -m -n; exits 77 (CTest: skipped) without them.
# Usage: package_install_test.sh <build dir>
set -eu
build=$1

if [ "${REGLO_PACKAGE_NAMESPACE:-}" != 1 ]; then
  if [ "$(id -u)" -ne 0 ] || ! unshare -m -n true 2>/dev/null; then
    echo "skipped: needs root and mount/network namespaces (unshare -m -n)"
    exit 77
  fi
  exec env REGLO_PACKAGE_NAMESPACE=1 unshare -m -n --propagation private "$0" "$@"
fi

# From here on, mounts and the network are this process's own; they vanish with it.
work=$(mktemp -d "${TMPDIR:-/tmp}/reglo-package-install.XXXXXX")
# Unmounted before the removal, which never crosses into another file system: below $work are
# bind mounts of the real /dev, /proc and /sys.
trap 'umount -R -l "$work" 2>/dev/null || true; rm -rf --one-file-system "$work"' EXIT
mount -t tmpfs tmpfs "$work"
(cd "$build" && cpack -G DEB -B "$work/out" > "$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; exit 1; }
mkdir "$work/upper" "$work/overlay-work" "$work/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$work/upper,workdir=$work/overlay-work" "$work/root"
for dir in proc sys dev; do mount --rbind "/$dir" "$work/root/$dir"; done
mkdir "$work/root/reglo-debs"
cp "$work"/out/*.deb "$work/root/reglo-debs/"
ip link set lo up

cat > "$work/root/reglo-debs/check.sh" <<'EOF'
set -eu
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
export TMPDIR=/tmp DEBIAN_FRONTEND=noninteractive
# The man-db trigger would rebuild the whole man index of this copy: 20 s for nothing.
rm -f /var/lib/man-db/auto-update
# A host with the packages or the user already: this copy starts without them.
if dpkg-query -W reglo-hub > /dev/null 2>&1; then
  dpkg --purge reglo-connector-dev reglo-hub > /dev/null 2>&1
fi
if getent passwd reglo > /dev/null; then userdel reglo; fi
if getent group reglo > /dev/null; then groupdel reglo; fi

dpkg -i /reglo-debs/reglo-hub_*.deb /reglo-debs/reglo-connector-dev_*.deb > /reglo-debs/dpkg.log 2>&1 ||
  { cat /reglo-debs/dpkg.log; fail "dpkg -i"; }
entry=$(getent passwd reglo) || fail "the postinst made no user reglo"
uid=$(echo "$entry" | cut -d: -f3)
[ "$uid" -lt 1000 ] || fail "reglo is not a system user: $entry"
[ "$(echo "$entry" | cut -d: -f6-)" = "/var/lib/reglo:/usr/sbin/nologin" ] ||
  fail "reglo's home or shell: $entry"
getent group reglo > /dev/null || fail "no group reglo"
[ "$(stat -c '%U:%G %a' /var/lib/reglo)" = "reglo:reglo 750" ] ||
  fail "/var/lib/reglo is $(stat -c '%U:%G %a' /var/lib/reglo)"
dpkg-query -W -f='${Conffiles}\n' reglo-hub | grep -q '^ /etc/reglo/hub.json ' ||
  fail "dpkg does not know /etc/reglo/hub.json as a conffile"
echo "installed: system user reglo ($uid), /var/lib/reglo reglo:reglo 750, conffile registered"

# The installed config as it is; the user the unit runs as (setpriv execs, so the signal below
# reaches the hub itself, as systemd's would).
setpriv --reuid=reglo --regid=reglo --init-groups reglo-hub --config /etc/reglo/hub.json migrate
setpriv --reuid=reglo --regid=reglo --init-groups reglo-hub --config /etc/reglo/hub.json serve \
  > /tmp/serve.log 2> /tmp/serve.err &
serve=$!
tries=0
until grep -q '^Admin token' /tmp/serve.log; do
  tries=$((tries + 1))
  if [ "$tries" -gt 300 ] || ! kill -0 "$serve" 2>/dev/null; then
    cat /tmp/serve.log /tmp/serve.err
    fail "serve did not start"
  fi
  sleep 0.1
done
grep -qxF 'Integration Console: http://127.0.0.1:8470/' /tmp/serve.log ||
  { cat /tmp/serve.log; fail "the admin listener is not on the packaged 127.0.0.1:8470"; }
token=$(sed -n 's|^Admin token .*: \([^ ]*\)$|\1|p' /tmp/serve.log)
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
  http://127.0.0.1:8470/readyz)
[ "$code" = 200 ] || fail "GET /readyz with the printed token: $code"
kill -TERM "$serve"
wait "$serve" || fail "serve exited $? after SIGTERM"
# Everything it made belongs to reglo, the key file to it alone.
[ -z "$(find /var/lib/reglo ! -user reglo)" ] || fail "files in /var/lib/reglo not owned by reglo"
[ "$(stat -c '%a' /var/lib/reglo/reglo-hub.key)" = 600 ] || fail "reglo-hub.key is not 0600"
[ -d /var/lib/reglo/plugin-cache ] || fail "no plugin-cache in /var/lib/reglo"
echo "the installed hub ran as reglo on /etc/reglo/hub.json: store, key and plugin copies in /var/lib/reglo"

# A reinstall (as an upgrade would) keeps the operator's edit of the conffile.
sed -i 's|"127.0.0.1:8470"|"127.0.0.1:8471"|' /etc/reglo/hub.json
dpkg -i /reglo-debs/reglo-hub_*.deb > /reglo-debs/dpkg.log 2>&1 || { cat /reglo-debs/dpkg.log; fail "reinstall"; }
grep -qF '"127.0.0.1:8471"' /etc/reglo/hub.json || fail "the reinstall replaced the edited conffile"

dpkg -r reglo-connector-dev reglo-hub > /reglo-debs/dpkg.log 2>&1 || { cat /reglo-debs/dpkg.log; fail "dpkg -r"; }
[ -f /var/lib/reglo/hub.db ] && [ -f /etc/reglo/hub.json ] || fail "remove deleted the data or the config"
[ ! -e /usr/bin/reglo-hub ] || fail "remove left /usr/bin/reglo-hub"
dpkg --purge reglo-hub > /reglo-debs/dpkg.log 2>&1 || { cat /reglo-debs/dpkg.log; fail "dpkg --purge"; }
[ ! -e /var/lib/reglo ] && [ ! -e /etc/reglo ] || fail "purge left /var/lib/reglo or /etc/reglo"
getent passwd reglo > /dev/null || fail "purge deleted the user reglo"
echo "reinstall kept the edited conffile; remove kept the data; purge deleted it and kept the user"
EOF
chroot "$work/root" sh /reglo-debs/check.sh
