# Packaging of Reglo Hub: `cpack -G DEB` in the build folder builds reglo-hub_<version>_<arch>.deb
# from the install rules (bin/, lib/reglo/plugins/, include/reglo/, lib/cmake/RegloConnector/,
# share/reglo/). Included at the end of the top-level CMakeLists.txt.
set(CPACK_PACKAGE_NAME "reglo-hub")
set(CPACK_PACKAGE_VENDOR "Reglo")
set(CPACK_PACKAGE_CONTACT "Reglo <hub@reglo.invalid>")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "Reglo Hub: integration layer between driving-school systems and Reglo")
set(CPACK_PACKAGE_DESCRIPTION
  "Loads connector plugins, pulls changes, maps them to the canonical model, stores them "
  "idempotently and emits domain events. Includes the bundled connectors, the connector SDK "
  "(headers and CMake package), the conformance kit reglo-connector-check and "
  "reglo-connector-runner, which runs a plugin in its own process (process isolation).")
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
# Debug info stays in the build tree: the package is several times smaller and builds faster.
set(CPACK_STRIP_FILES ON)
# Runtime dependencies from the binaries themselves when dpkg-shlibdeps (dpkg-dev) is there;
# otherwise the Debian 12 libraries the hub links, written out.
find_program(REGLO_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(REGLO_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libboost-filesystem1.74.0, libfmt9, libspdlog1.10, libsqlite3-0, libssl3, libpq5")
endif()
include(CPack)
