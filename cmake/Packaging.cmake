# Debian packages with CPack (docs/packaging.md; ./hearth.sh package):
#   libhearth0     component lib:   the shared library
#   libhearth-dev  component dev:   headers, CMake config, pkg-config file, the .so link
#   hearth-tools   component tools: hearth, hearthd, man pages, systemd units,
#                  sysusers file, example config, /usr/share/hearth/{schemas,policies}
# Every destination is relative to the prefix, so that `cmake --install
# --prefix DIR` (tests/install) still works without root. ./hearth.sh
# package configures with CMAKE_INSTALL_PREFIX=/usr.

# ---- man pages: hearth.1 and hearthd.8 from the tools' --help ---------------
# help2man runs `TOOL --help` and `TOOL --version`; gzip -9n (no name, no
# time stamp) keeps the .gz reproducible. Off unless asked for (needs help2man,
# which the CI build does not install).
option(HEARTH_MANPAGES "Generate man pages from --help (needs help2man)" OFF)
if(HEARTH_MANPAGES AND TARGET hearthd AND TARGET hearth_cli)
  find_program(HEARTH_HELP2MAN help2man REQUIRED)
  find_program(HEARTH_GZIP gzip REQUIRED)
  set(hearth_man_dir ${PROJECT_BINARY_DIR}/man)
  # hearth_manpage(TARGET NAME SECTION DESCRIPTION)
  function(hearth_manpage target name section description)
    set(out ${hearth_man_dir}/${name}.${section}.gz)
    add_custom_command(OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${hearth_man_dir}
      COMMAND ${HEARTH_HELP2MAN} --no-info --no-discard-stderr --section=${section}
              "--name=${description}" "--source=Hearth ${PROJECT_VERSION}"
              --output=${hearth_man_dir}/${name}.${section} $<TARGET_FILE:${target}>
      COMMAND ${HEARTH_GZIP} -9nf ${hearth_man_dir}/${name}.${section}
      DEPENDS ${target}
      COMMENT "man page ${name}(${section}) from ${name} --help"
      VERBATIM)
    set_property(GLOBAL APPEND PROPERTY HEARTH_MAN_OUTPUTS ${out})
    install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section} COMPONENT tools)
  endfunction()
  hearth_manpage(hearth_cli hearth 1 "peer-to-peer, offline-first sync of shared agency records")
  hearth_manpage(hearthd hearthd 8 "Hearth sync daemon")
  get_property(hearth_man_outputs GLOBAL PROPERTY HEARTH_MAN_OUTPUTS)
  add_custom_target(hearth_manpages ALL DEPENDS ${hearth_man_outputs})
endif()

# ---- hearth-tools: service files, data, docs --------------------------------
if(TARGET hearthd)
  set(HEARTH_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
      "systemd unit directory, relative to the prefix")
  set(HEARTH_SYSUSERS_DIR "lib/sysusers.d" CACHE STRING "sysusers.d directory, relative to the prefix")
  # The units name hearthd by its installed path.
  set(HEARTHD "${CMAKE_INSTALL_FULL_BINDIR}/hearthd")
  foreach(unit hearthd.service hearthd@.service)
    configure_file(${PROJECT_SOURCE_DIR}/packaging/systemd/${unit} ${PROJECT_BINARY_DIR}/systemd/${unit} @ONLY)
    install(FILES ${PROJECT_BINARY_DIR}/systemd/${unit} DESTINATION ${HEARTH_SYSTEMD_UNIT_DIR} COMPONENT tools)
  endforeach()
  install(FILES ${PROJECT_SOURCE_DIR}/packaging/sysusers/hearth.conf DESTINATION ${HEARTH_SYSUSERS_DIR}
          COMPONENT tools)
  install(FILES ${PROJECT_SOURCE_DIR}/packaging/hearthd.toml
          DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/hearth-tools/examples COMPONENT tools)
  install(FILES ${PROJECT_SOURCE_DIR}/docs/hearthd.md ${PROJECT_SOURCE_DIR}/docs/cli.md
          DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/hearth-tools COMPONENT tools)
  install(FILES ${PROJECT_SOURCE_DIR}/schemas/county.toml DESTINATION ${CMAKE_INSTALL_DATADIR}/hearth/schemas
          COMPONENT tools)
  install(FILES ${PROJECT_SOURCE_DIR}/policies/county.toml DESTINATION ${CMAKE_INSTALL_DATADIR}/hearth/policies
          COMPONENT tools)
endif()

# ---- Debian metadata: copyright and changelog in each package's doc dir ----
# changelog.Debian.gz: the version has a Debian revision (-1), i.e. not native.
set(hearth_deb_changelog ${PROJECT_BINARY_DIR}/debian/changelog.Debian.gz)
add_custom_command(OUTPUT ${hearth_deb_changelog}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/debian
  COMMAND sh -c "gzip -9n -c '${PROJECT_SOURCE_DIR}/packaging/debian/changelog' > '${hearth_deb_changelog}'"
  DEPENDS ${PROJECT_SOURCE_DIR}/packaging/debian/changelog
  VERBATIM)
add_custom_target(hearth_deb_changelog ALL DEPENDS ${hearth_deb_changelog})
set(hearth_deb_packages lib libhearth0 dev libhearth-dev)
if(TARGET hearthd)
  list(APPEND hearth_deb_packages tools hearth-tools)
endif()
while(hearth_deb_packages)
  list(POP_FRONT hearth_deb_packages component package)
  install(FILES ${PROJECT_SOURCE_DIR}/packaging/debian/copyright ${hearth_deb_changelog}
          DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${package} COMPONENT ${component})
  install(FILES ${PROJECT_SOURCE_DIR}/packaging/debian/lintian/${package}
          DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides COMPONENT ${component})
endwhile()

# ---- CPack -----------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME hearth)
set(CPACK_PACKAGE_VENDOR "The Hearth authors")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# Each package's description starts with its own synopsis line: no shared
# summary prepended (CPackDeb prepends CPACK_PACKAGE_DESCRIPTION_SUMMARY).
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "")
set(CPACK_PACKAGE_CONTACT "Hearth maintainers <hearth@example.org>")
set(CPACK_PACKAGE_HOMEPAGE_URL "https://github.com/hearth-sync/hearth")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL lib dev)
if(TARGET hearthd)
  list(APPEND CPACK_COMPONENTS_ALL tools)
endif()
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# dpkg-shlibdeps finds libhearth.so.0 (needed by the tools) in the staging
# tree of libhearth0; hearth-tools names its dependency on it below.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR})
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(hearth_deb_version "${PROJECT_VERSION}-1")

set(CPACK_DEBIAN_LIB_PACKAGE_NAME libhearth0)
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION libs)
# ldconfig by dpkg trigger; the no-op postinst/postrm keep CPack from
# writing its own, which call ldconfig (lintian: maintscript-calls-ldconfig).
set(CPACK_DEBIAN_LIB_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/packaging/debian/lib/triggers
    ${PROJECT_SOURCE_DIR}/packaging/debian/lib/postinst ${PROJECT_SOURCE_DIR}/packaging/debian/lib/postrm)
set(CPACK_DEBIAN_LIB_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_COMPONENT_LIB_DESCRIPTION "peer-to-peer, offline-first sync of shared records (library)
Hearth keeps records shared between agencies in sync without a central
server: CRDT records in LMDB, signed and encrypted deltas over ZeroMQ
(CURVE), libsodium for the cryptography.

This package contains the shared library.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libhearth-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libhearth0 (= ${hearth_deb_version})")
set(CPACK_DEBIAN_DEV_PACKAGE_SHLIBDEPS OFF)  # no ELF files
set(CPACK_COMPONENT_DEV_DESCRIPTION "peer-to-peer, offline-first sync of shared records (development)
Hearth keeps records shared between agencies in sync without a central
server: CRDT records in LMDB, signed and encrypted deltas over ZeroMQ
(CURVE), libsodium for the cryptography.

This package contains the C++20 headers, the CMake package
(find_package(hearth)) and the pkg-config file.")

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME hearth-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION net)
set(CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS "libhearth0 (= ${hearth_deb_version}), adduser")
set(CPACK_DEBIAN_TOOLS_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/packaging/debian/postinst)
set(CPACK_DEBIAN_TOOLS_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_COMPONENT_TOOLS_DESCRIPTION "peer-to-peer, offline-first sync of shared records (tools, daemon)
Hearth keeps records shared between agencies in sync without a central
server: CRDT records in LMDB, signed and encrypted deltas over ZeroMQ
(CURVE), libsodium for the cryptography.

This package contains hearth, the command-line tool, and hearthd, the sync
daemon, with systemd units (hearthd.service, hearthd@.service), an example
configuration, the county schema pack and policy template.")

include(CPack)
