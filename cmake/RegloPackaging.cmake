# Debian packaging of Reglo Hub: `cpack -G DEB` in the build folder builds two packages from the
# install components (the Debian files are in packaging/debian/):
#   reglo-hub            components hub + hub_debian: binaries, production connectors, console,
#                        sample school, systemd unit, /etc/reglo/hub.json, /var/lib/reglo, man pages
#   reglo-connector-dev  components sdk + sdk_debian: headers, CMake package, connector template,
#                        the conformance kit reglo-connector-check
# The *_debian components hold what only a Debian system wants (absolute /etc, /lib/systemd and
# /var paths, Debian's copyright and changelog): EXCLUDE_FROM_ALL keeps them out of a plain
# `cmake --install --prefix DIR`, CPack installs them because CPACK_COMPONENTS_ALL names them.
# Included at the end of the top-level CMakeLists.txt.
set(REGLO_DEBIAN_DIR ${PROJECT_SOURCE_DIR}/packaging/debian)
# The Debian revision: a new package of the same upstream version (packaging fix) raises it.
set(REGLO_DEBIAN_RELEASE 1)
set(REGLO_DEBIAN_VERSION "${PROJECT_VERSION}-${REGLO_DEBIAN_RELEASE}")

# The changelog names the version it describes: a version bump without its entry fails here, not
# in lintian after the build.
file(STRINGS ${REGLO_DEBIAN_DIR}/changelog REGLO_CHANGELOG_TOP LIMIT_COUNT 1)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${REGLO_DEBIAN_DIR}/changelog)
if(NOT REGLO_CHANGELOG_TOP MATCHES "^reglo-hub \\(${REGLO_DEBIAN_VERSION}\\) ")
  message(FATAL_ERROR "packaging/debian/changelog: its first entry must be for version "
    "${REGLO_DEBIAN_VERSION} (project version ${PROJECT_VERSION}, Debian revision "
    "${REGLO_DEBIAN_RELEASE}); it is: ${REGLO_CHANGELOG_TOP}")
endif()

# Files Debian wants compressed with gzip -9n (no name, no timestamp: reproducible).
set(REGLO_DEBIAN_BUILD_DIR ${CMAKE_BINARY_DIR}/debian)
find_program(REGLO_GZIP gzip REQUIRED)
add_custom_command(
  OUTPUT ${REGLO_DEBIAN_BUILD_DIR}/changelog.Debian.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${REGLO_DEBIAN_BUILD_DIR}
  COMMAND ${REGLO_GZIP} -9nc ${REGLO_DEBIAN_DIR}/changelog > ${REGLO_DEBIAN_BUILD_DIR}/changelog.Debian.gz
  DEPENDS ${REGLO_DEBIAN_DIR}/changelog
  VERBATIM)
set(REGLO_DEBIAN_GENERATED ${REGLO_DEBIAN_BUILD_DIR}/changelog.Debian.gz)

# Man pages from the programs' own --help (help2man), so they never drift from the options. Dated
# by the changelog's latest entry (SOURCE_DATE_EPOCH), so a rebuild gives the same pages.
find_program(REGLO_HELP2MAN help2man)
if(REGLO_HELP2MAN)
  file(STRINGS ${REGLO_DEBIAN_DIR}/changelog REGLO_CHANGELOG_TRAILER REGEX "^ -- " LIMIT_COUNT 1)
  string(REGEX REPLACE "^ -- .*>  " "" REGLO_CHANGELOG_DATE "${REGLO_CHANGELOG_TRAILER}")
  execute_process(COMMAND date -d "${REGLO_CHANGELOG_DATE}" +%s
    OUTPUT_VARIABLE REGLO_SOURCE_DATE_EPOCH OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
  set(REGLO_MAN_PAGES "")
  foreach(entry
      "reglo-hub|hub|integration hub between driving-school systems and Reglo"
      "reglo-connector-runner|hub|runs one Reglo connector plugin in its own process"
      "reglo-connector-check|sdk|conformance kit for Reglo connector plugins")
    string(REPLACE "|" ";" entry "${entry}")
    list(GET entry 0 program)
    list(GET entry 1 component)
    list(GET entry 2 summary)
    set(page ${REGLO_DEBIAN_BUILD_DIR}/${program}.1)
    add_custom_command(
      OUTPUT ${page}.gz
      COMMAND ${CMAKE_COMMAND} -E make_directory ${REGLO_DEBIAN_BUILD_DIR}
      COMMAND ${CMAKE_COMMAND} -E env SOURCE_DATE_EPOCH=${REGLO_SOURCE_DATE_EPOCH}
        ${REGLO_HELP2MAN} --no-info --no-discard-stderr --section=1
        --name=${summary} --version-string=${PROJECT_VERSION}
        --include=${REGLO_DEBIAN_DIR}/${program}.h2m --output=${page} $<TARGET_FILE:${program}>
      COMMAND ${REGLO_GZIP} -9nf ${page}
      DEPENDS ${program} ${REGLO_DEBIAN_DIR}/${program}.h2m
      VERBATIM)
    install(FILES ${page}.gz DESTINATION share/man/man1 COMPONENT ${component})
    list(APPEND REGLO_DEBIAN_GENERATED ${page}.gz)
  endforeach()
else()
  message(STATUS "help2man not found: the packages will have no man pages (tools/install-deps)")
endif()
add_custom_target(reglo_debian_files ALL DEPENDS ${REGLO_DEBIAN_GENERATED})

# The reglo-hub package's Debian side.
install(FILES ${REGLO_DEBIAN_DIR}/reglo-hub.service DESTINATION /lib/systemd/system
  COMPONENT hub_debian EXCLUDE_FROM_ALL)
install(FILES ${REGLO_DEBIAN_DIR}/hub.json DESTINATION /etc/reglo
  COMPONENT hub_debian EXCLUDE_FROM_ALL)
# Empty here; the postinst gives it to the user reglo.
install(DIRECTORY DESTINATION /var/lib/reglo COMPONENT hub_debian EXCLUDE_FROM_ALL)
install(FILES README.md docs/admin-api.md DESTINATION share/doc/reglo-hub
  COMPONENT hub_debian EXCLUDE_FROM_ALL)
foreach(package IN ITEMS reglo-hub reglo-connector-dev)
  if(package STREQUAL "reglo-hub")
    set(component hub_debian)
  else()
    set(component sdk_debian)
  endif()
  install(FILES ${REGLO_DEBIAN_DIR}/copyright ${REGLO_DEBIAN_BUILD_DIR}/changelog.Debian.gz
    DESTINATION share/doc/${package} COMPONENT ${component} EXCLUDE_FROM_ALL)
  # The lintian tags accepted on purpose, each with its reason (README.md, "Packages").
  install(FILES ${REGLO_DEBIAN_DIR}/${package}.lintian-overrides DESTINATION share/lintian/overrides
    RENAME ${package} COMPONENT ${component} EXCLUDE_FROM_ALL)
endforeach()
# Full RELRO (lintian: hardening-no-bindnow) for the programs and plugins the packages ship: the
# GOT is read-only before main() runs, and the plugins are dlopen()ed with RTLD_NOW anyway.
foreach(target IN ITEMS reglo-hub reglo-connector-runner reglo-connector-check reglo_connector_csv
    reglo_connector_http reglo_connector_sql)
  if(TARGET ${target})
    target_link_options(${target} PRIVATE LINKER:-z,now)
  endif()
endforeach()
# Maintainer scripts and conffiles under the names dpkg wants (CONTROL_EXTRA takes basenames).
foreach(script IN ITEMS postinst prerm postrm conffiles)
  configure_file(${REGLO_DEBIAN_DIR}/reglo-hub.${script}
    ${REGLO_DEBIAN_BUILD_DIR}/reglo-hub/${script} COPYONLY)
  list(APPEND REGLO_HUB_CONTROL_EXTRA ${REGLO_DEBIAN_BUILD_DIR}/reglo-hub/${script})
endforeach()

set(CPACK_PACKAGE_NAME "reglo-hub")
set(CPACK_PACKAGE_VENDOR "Reglo")
set(CPACK_PACKAGE_CONTACT "Reglo <hub@reglo.invalid>")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL hub hub_debian sdk sdk_debian)
set(CPACK_COMPONENTS_GROUPING ONE_PER_GROUP)
set(CPACK_COMPONENT_HUB_GROUP hub)
set(CPACK_COMPONENT_HUB_DEBIAN_GROUP hub)
set(CPACK_COMPONENT_SDK_GROUP sdk)
set(CPACK_COMPONENT_SDK_DEBIAN_GROUP sdk)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${REGLO_DEBIAN_RELEASE})
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
  OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
# Debug info stays in the build tree: the packages are several times smaller and build faster.
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_HUB_PACKAGE_NAME "reglo-hub")
set(CPACK_DEBIAN_HUB_DESCRIPTION
  "integration hub between driving-school systems and Reglo
Loads connector plugins, pulls changes from the schools' systems, maps them to
the canonical model, stores them idempotently (SQLite or PostgreSQL) and emits
domain events (webhooks, NATS). Includes the production connectors (csv, http,
sql), reglo-connector-runner for process isolation, the Integration Console
and a systemd service running as the system user reglo.")
# adduser: the postinst creates the user reglo.
set(CPACK_DEBIAN_HUB_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_HUB_PACKAGE_CONTROL_EXTRA "${REGLO_HUB_CONTROL_EXTRA}")

set(CPACK_DEBIAN_SDK_PACKAGE_NAME "reglo-connector-dev")
set(CPACK_DEBIAN_SDK_PACKAGE_SECTION "libdevel")
set(CPACK_DEBIAN_SDK_DESCRIPTION
  "SDK to write connector plugins for Reglo Hub
The C ABI and C++20 headers of Reglo connectors, the CMake package
RegloConnector (find_package(RegloConnector 1)), a connector template to copy
and the conformance kit reglo-connector-check, which runs a plugin through the
hub's own plugin host and validator.")
# The kit runs plugins through the hub's reglo-connector-runner (--isolation process) and judges
# them as that very hub version would.
set(CPACK_DEBIAN_SDK_PACKAGE_DEPENDS "reglo-hub (= ${REGLO_DEBIAN_VERSION})")
# The template parses its config with nlohmann/json; the SDK headers themselves need nothing.
set(CPACK_DEBIAN_SDK_PACKAGE_RECOMMENDS "cmake, g++, nlohmann-json3-dev")

# Runtime dependencies from the binaries themselves when dpkg-shlibdeps (dpkg-dev) is there;
# otherwise the Debian 12 libraries the hub links, written out.
find_program(REGLO_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(REGLO_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  string(APPEND CPACK_DEBIAN_HUB_PACKAGE_DEPENDS
    ", libboost-filesystem1.74.0, libfmt9, libspdlog1.10, libsqlite3-0, libssl3, libpq5, libzstd1, libxxhash0")
endif()
include(CPack)
