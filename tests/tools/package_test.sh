#!/bin/sh
# The Debian packages end to end: builds reglo-hub and reglo-connector-dev with CPack; lintian
# finds no error and no warning but the overridden ones; each package holds what it should (the
# sida_stub simulator in neither); systemd-analyze accepts the unit and rates its exposure low;
# both packages unpack into a temporary root where the hub runs with the packaged
# /etc/reglo/hub.json, rewritten only for the root prefix (and the admin port): migrate, plugins
# list, serve with its first admin token, writing nowhere but var/lib/reglo; the packaged sample
# school syncs; the packaged connector template builds against the unpacked SDK and passes the kit.
# Usage: package_test.sh <build dir>
set -eu
build=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/reglo-package-test.XXXXXX")
serve_pid=
cleanup() {
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

(cd "$build" && cpack -G DEB -B "$work/out" > "$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; exit 1; }
hub_deb=$(ls "$work"/out/reglo-hub_*.deb)
dev_deb=$(ls "$work"/out/reglo-connector-dev_*.deb)
for deb in "$hub_deb" "$dev_deb"; do
  echo "built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"
done

# lintian: errors and warnings fail; accepted tags are overridden in the package, with the reason.
lintian --fail-on error,warning "$hub_deb" "$dev_deb" > "$work/lintian.log" 2>&1 ||
  { cat "$work/lintian.log"; fail "lintian reported errors or warnings"; }
echo "lintian: no errors, no warnings"

# What each package holds.
dpkg-deb -c "$hub_deb" | awk '{print $6}' > "$work/hub.files"
dpkg-deb -c "$dev_deb" | awk '{print $6}' > "$work/dev.files"
for path in ./usr/bin/reglo-hub ./usr/bin/reglo-connector-runner \
    ./usr/lib/reglo/plugins/libreglo_connector_csv.so ./usr/lib/reglo/plugins/libreglo_connector_http.so \
    ./usr/lib/reglo/plugins/libreglo_connector_sql.so ./lib/systemd/system/reglo-hub.service \
    ./etc/reglo/hub.json ./var/lib/reglo/ ./usr/share/man/man1/reglo-hub.1.gz \
    ./usr/share/man/man1/reglo-connector-runner.1.gz ./usr/share/doc/reglo-hub/copyright \
    ./usr/share/doc/reglo-hub/changelog.Debian.gz ./usr/share/doc/reglo-hub/README.md; do
  grep -qxF "$path" "$work/hub.files" || fail "reglo-hub lacks $path"
done
for path in ./usr/bin/reglo-connector-check ./usr/include/reglo/connector.h \
    ./usr/include/reglo/connector.hpp ./usr/lib/cmake/RegloConnector/RegloConnectorConfig.cmake \
    ./usr/lib/cmake/RegloConnector/RegloConnectorConfigVersion.cmake \
    ./usr/share/reglo/examples/connector-template/CMakeLists.txt \
    ./usr/share/reglo/schema/student.schema.json ./usr/share/reglo/doc/canonical-model.md \
    ./usr/share/man/man1/reglo-connector-check.1.gz ./usr/share/doc/reglo-connector-dev/copyright \
    ./usr/share/doc/reglo-connector-dev/changelog.Debian.gz; do
  grep -qxF "$path" "$work/dev.files" || fail "reglo-connector-dev lacks $path"
done
! grep -i sida "$work/hub.files" "$work/dev.files" || fail "the sida_stub simulator is packaged"
! grep -E '^\./usr/(include|lib/cmake)/|reglo-connector-check' "$work/hub.files" ||
  fail "reglo-hub holds SDK files"
! grep -E '\.so$' "$work/dev.files" || fail "reglo-connector-dev holds plugins"
dpkg-deb --ctrl-tarfile "$hub_deb" | tar -x -C "$work" ./conffiles
grep -qxF /etc/reglo/hub.json "$work/conffiles" || fail "/etc/reglo/hub.json is not a conffile"
hub_version=$(dpkg-deb -f "$hub_deb" Version)
dpkg-deb -f "$dev_deb" Depends | grep -qF "reglo-hub (= $hub_version)" ||
  fail "reglo-connector-dev does not depend on reglo-hub $hub_version"
echo "package contents as expected; reglo-hub $hub_version holds no simulator and no SDK"

root="$work/root"
dpkg-deb -x "$hub_deb" "$root"
dpkg-deb -x "$dev_deb" "$root"

# The unit as packaged, but for its ExecStart (systemd-analyze checks that the binary exists) and
# with its man page found in the unpacked tree. verify exits 0 on unknown keys or bad values and
# only prints them, so any output fails.
sed "s|=/usr/bin/reglo-hub |=$root/usr/bin/reglo-hub |" "$root/lib/systemd/system/reglo-hub.service" \
  > "$work/reglo-hub.service"
grep -qF "ExecStart=$root/usr/bin/reglo-hub " "$work/reglo-hub.service" || fail "no ExecStart rewritten"
MANPATH="$root/usr/share/man" systemd-analyze verify "$work/reglo-hub.service" > "$work/verify.log" 2>&1 ||
  { cat "$work/verify.log"; fail "systemd-analyze verify failed"; }
[ ! -s "$work/verify.log" ] || { cat "$work/verify.log"; fail "systemd-analyze verify complained"; }
# The hardening as systemd rates it: 2.0 on its 0-10 scale at most (threshold in tenths).
systemd-analyze security --offline=yes --threshold=20 "$work/reglo-hub.service" > "$work/security.log" 2>&1 ||
  { cat "$work/security.log"; fail "the unit's exposure is above 2.0"; }
echo "systemd-analyze: unit verified; $(grep 'Overall exposure' "$work/security.log")"

# The packaged config, with only the root prefix (and a free admin port) changed.
config="$root/etc/reglo/hub.json"
sed -i -e "s|\"sqlite:/var/lib/reglo/|\"sqlite:$root/var/lib/reglo/|" \
  -e "s|\"/var/lib/reglo/plugin-cache\"|\"$root/var/lib/reglo/plugin-cache\"|" \
  -e "s|\"/usr/lib/reglo/plugins\"|\"$root/usr/lib/reglo/plugins\"|" \
  -e 's|"listen": "127.0.0.1:8470"|"listen": "127.0.0.1:0"|' "$config"
for rewritten in "\"$root/usr/lib/reglo/plugins\"" "\"sqlite:$root/var/lib/reglo/" \
    "\"$root/var/lib/reglo/plugin-cache\"" '"127.0.0.1:0"'; do
  grep -qF "$rewritten" "$config" || fail "the packaged config changed shape: no $rewritten in it"
done
! grep -E '"/(usr|var|etc)/' "$config" || fail "the packaged config has a path not rewritten for the root"
hub="$root/usr/bin/reglo-hub"
"$hub" --help > /dev/null
# Every file outside var/lib/reglo, with its checksum: the hub must leave them as they are.
outside_reglo_state() {
  (cd "$root" && find . ! -type d ! -path './var/lib/reglo/*' -exec md5sum {} + | sort -k2)
}
outside_reglo_state > "$work/before-run"
"$hub" --config "$config" migrate
"$hub" --config "$config" plugins list > "$work/plugins.log" || { cat "$work/plugins.log"; fail "plugins list"; }
for plugin in csv http sql; do
  grep -q "^  $plugin " "$work/plugins.log" || { cat "$work/plugins.log"; fail "plugin $plugin not loaded"; }
done

# serve: the first start prints the admin token once and keeps its hash in the store.
"$hub" --config "$config" serve > "$work/serve.log" 2> "$work/serve.err" &
serve_pid=$!
tries=0
until grep -q '^Admin token' "$work/serve.log"; do
  tries=$((tries + 1))
  if [ "$tries" -gt 300 ] || ! kill -0 "$serve_pid" 2>/dev/null; then
    cat "$work/serve.log" "$work/serve.err"
    fail "serve did not start"
  fi
  sleep 0.1
done
url=$(sed -n 's|^Integration Console: \(http://[^ ]*\)/$|\1|p' "$work/serve.log")
token=$(sed -n 's|^Admin token .*: \([^ ]*\)$|\1|p' "$work/serve.log")
if [ -z "$url" ] || [ -z "$token" ]; then cat "$work/serve.log"; fail "no console URL or token"; fi
# /readyz answers a load balancer without the token, but its detail only with it.
body=$(curl -s -H "Authorization: Bearer $token" "$url/readyz")
echo "$body" | grep -q '"store":"ok"' || fail "GET /readyz with the printed token: $body"
body=$(curl -s "$url/readyz")
[ "$body" = '{"status":"ready"}' ] || fail "GET /readyz without a token: $body"
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/api/admin/sources")
[ "$code" = 401 ] || fail "GET /api/admin/sources without a token: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$url/api/admin/sources")
[ "$code" = 200 ] || fail "GET /api/admin/sources with the printed token: $code"
kill -TERM "$serve_pid"
wait "$serve_pid" || fail "serve exited $? after SIGTERM"
serve_pid=
stored=$(sqlite3 "$root/var/lib/reglo/hub.db" \
  "SELECT value FROM integration_settings WHERE key = 'admin.token_sha256'")
[ "$stored" = "$(printf %s "$token" | sha256sum | cut -d' ' -f1)" ] ||
  fail "the admin token's hash is not in the store under var/lib/reglo"
[ -f "$root/var/lib/reglo/reglo-hub.key" ] || fail "no master key file in var/lib/reglo"
# What the service may write (ReadWritePaths=/var/lib/reglo) is all the hub wrote.
outside_reglo_state > "$work/after-run"
diff "$work/before-run" "$work/after-run" || fail "the hub wrote outside var/lib/reglo"
echo "unpacked reglo-hub ran with the packaged config: admin token hashed in var/lib/reglo/hub.db"

# The packaged sample school: its store goes into the temp root; plugins_dir is relative to the
# config, so it already points into the unpacked tree.
sample="$root/usr/share/reglo/examples/autoscuola-rossi/hub.json"
sed -i "s|\"sqlite:/var/lib/reglo/|\"sqlite:$root/var/lib/reglo/|" "$sample"
set +e
"$hub" --config "$sample" sync --once > "$work/sync.log"
code=$?
set -e
# 3: success with warnings (the sample data holds deliberately broken rows).
[ "$code" -eq 0 ] || [ "$code" -eq 3 ] || { cat "$work/sync.log"; fail "sync --once exited $code"; }
[ -s "$root/var/lib/reglo/autoscuola-rossi.db" ] || fail "no store written"
echo "unpacked reglo-hub synced the sample school (exit $code)"

# The SDK as a vendor gets it: the packaged template, built against the unpacked package, passes
# the unpacked kit, also through the unpacked connector runner (reglo-hub's, next to the kit).
cp -r "$root/usr/share/reglo/examples/connector-template" "$work/template"
if ! cmake -S "$work/template" -B "$work/template-build" -G Ninja -DCMAKE_PREFIX_PATH="$root/usr" \
    > "$work/template.log" 2>&1 ||
    ! cmake --build "$work/template-build" >> "$work/template.log" 2>&1; then
  cat "$work/template.log"
  fail "the template does not build against the unpacked SDK"
fi
env -u REGLO_CONNECTOR_RUNNER "$root/usr/bin/reglo-connector-check" \
  "$work/template-build/libreglo_connector_template.so" --config "$work/template/check-config.json" \
  --isolation process > "$work/check.log" 2>&1 || { cat "$work/check.log"; fail "the kit refused the template"; }
echo "the packaged template builds against reglo-connector-dev and passes reglo-connector-check"
