#!/bin/sh
# Installs the build into a temporary prefix, builds examples/connector-template out of tree
# against it with find_package(RegloConnector), and runs the installed conformance kit on the
# result, in its own process and through the installed connector runner; the canonical model's
# reference (JSON Schemas, canonical-model.md) is installed too.
# Usage: install_template_test.sh <build dir> <source dir>
set -eu
build=$1
source=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/reglo-install-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" > "$work/install.log" || { cat "$work/install.log"; exit 1; }
for path in bin/reglo-hub bin/reglo-connector-check bin/reglo-connector-runner include/reglo/connector.h \
    include/reglo/connector.hpp lib/cmake/RegloConnector/RegloConnectorConfig.cmake \
    lib/cmake/RegloConnector/RegloConnectorConfigVersion.cmake \
    lib/reglo/plugins/libreglo_connector_csv.so share/reglo/examples/autoscuola-rossi/hub.json \
    share/reglo/examples/connector-template/CMakeLists.txt share/reglo/schema/student.schema.json \
    share/reglo/schema/vehicle.schema.json share/reglo/doc/canonical-model.md; do
  [ -e "$work/prefix/$path" ] || { echo "not installed: $path"; exit 1; }
done

# The template as a vendor has it: a copy, outside the hub's tree.
cp -r "$source/examples/connector-template" "$work/template"
cmake -S "$work/template" -B "$work/template-build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" \
  > "$work/configure.log" 2>&1 || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/template-build" > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
"$work/prefix/bin/reglo-connector-check" "$work/template-build/libreglo_connector_template.so" \
  --config "$work/template/check-config.json" > "$work/check.log" 2>&1 ||
  { cat "$work/check.log"; exit 1; }
cat "$work/check.log"
# Vendors copy the template: its records must map with no validation warning at all.
grep -q "all accepted by validation; 0 with warnings" "$work/check.log" ||
  { echo "the template's records raise validation warnings"; exit 1; }
# And through the installed connector runner (process isolation), found next to the kit.
env -u REGLO_CONNECTOR_RUNNER "$work/prefix/bin/reglo-connector-check" \
  "$work/template-build/libreglo_connector_template.so" \
  --config "$work/template/check-config.json" --isolation process
