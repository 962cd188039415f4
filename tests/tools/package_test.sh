#!/bin/sh
# Builds the .deb with CPack, unpacks it with dpkg-deb -x into a temporary root, and runs the
# unpacked hub there against the unpacked sample config: sync --once must succeed (exit 0, or 3
# for success with warnings — the sample data holds deliberately broken rows).
# Usage: package_test.sh <build dir>
set -eu
build=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/reglo-package-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

(cd "$build" && cpack -G DEB -B "$work/out" > "$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; exit 1; }
deb=$(ls "$work"/out/reglo-hub_*.deb)
echo "built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"
dpkg-deb -x "$deb" "$work/root"

config="$work/root/usr/share/reglo/examples/autoscuola-rossi/hub.json"
# The packaged config keeps its store in /var/lib/reglo; here the store goes into the temp root.
# plugins_dir is relative to the config, so it already points into the unpacked tree.
sed -i "s|\"sqlite:/var/lib/reglo/|\"sqlite:$work/root/var/lib/reglo/|" "$config"
mkdir -p "$work/root/var/lib/reglo"
set +e
"$work/root/usr/bin/reglo-hub" --config "$config" sync --once
code=$?
set -e
[ "$code" -eq 0 ] || [ "$code" -eq 3 ] || { echo "reglo-hub sync --once exited $code"; exit 1; }
[ -s "$work/root/var/lib/reglo/autoscuola-rossi.db" ] || { echo "no store written"; exit 1; }
echo "unpacked reglo-hub synced the sample school (exit $code)"
