# Packaging.cmake: what `cmake --install` adds beyond the binaries (the
# migration command, the one-shot heartbeat check, the systemd unit, sysusers
# and tmpfiles entries, the man pages) and the CPack configuration of the
# Debian package `qiflow`:
#   cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
#   cmake --build build && (cd build && cpack -G DEB)
# The package installs under /usr (plugins in /usr/lib/collectd, collectd's
# PluginDir) and the unit in /lib/systemd/system, Debian 12's place for it.

find_program(QF_GZIP gzip REQUIRED)

# The man pages (every contrib/man/*.1), compressed as Debian ships man
# pages (-n: no name or time stamp inside, so the build is reproducible).
file(GLOB QF_MAN_PAGES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/contrib/man/*.1)
set(QF_MAN_GZ)
foreach(page IN LISTS QF_MAN_PAGES)
  get_filename_component(name ${page} NAME)
  set(gz ${CMAKE_BINARY_DIR}/man/${name}.gz)
  add_custom_command(OUTPUT ${gz}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
    COMMAND ${CMAKE_COMMAND} -E copy ${page} ${CMAKE_BINARY_DIR}/man/${name}
    COMMAND ${QF_GZIP} -9nf ${CMAKE_BINARY_DIR}/man/${name}
    DEPENDS ${page}
    COMMENT "Compressing the man page ${name}" VERBATIM)
  list(APPEND QF_MAN_GZ ${gz})
endforeach()
add_custom_target(qiflow_man ALL DEPENDS ${QF_MAN_GZ})

# The unit goes to /lib/systemd/system, Debian 12's place, when installing
# into /usr (the package, or a system install), else under the prefix
# (cmake --install build --prefix /opt/x -> /opt/x/lib/systemd/system). The
# choice is made at install time because CPack installs with its own prefix.
set(QF_UNIT_FILE ${CMAKE_SOURCE_DIR}/contrib/systemd/qiflow-exporter.service)
install(CODE "
  if(CMAKE_INSTALL_PREFIX STREQUAL \"/usr\")
    set(qf_unit_dir /lib/systemd/system)
  else()
    set(qf_unit_dir \"\${CMAKE_INSTALL_PREFIX}/lib/systemd/system\")
  endif()
  file(INSTALL DESTINATION \"\${qf_unit_dir}\" TYPE FILE
       FILES \"${QF_UNIT_FILE}\")
")

install(PROGRAMS ${CMAKE_SOURCE_DIR}/contrib/qiflow-migrate
                 ${CMAKE_SOURCE_DIR}/contrib/qiflow-heartbeat-once
        DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${CMAKE_SOURCE_DIR}/contrib/systemd/qiflow.sysusers
        DESTINATION lib/sysusers.d
        RENAME qiflow.conf)
install(FILES ${CMAKE_SOURCE_DIR}/contrib/systemd/qiflow.tmpfiles
        DESTINATION lib/tmpfiles.d RENAME qiflow.conf)
install(FILES ${QF_MAN_GZ} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${CMAKE_SOURCE_DIR}/README.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
# README.md's map links into docs/: the same layout under the doc directory.
file(GLOB QF_DOCS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/docs/*.md)
install(FILES ${QF_DOCS} DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)

# collectd loads plugins from /usr/lib/collectd (not a multiarch libdir): a
# package whose plugins land elsewhere would install fine and load nothing.
if(NOT QF_PLUGIN_INSTALL_DIR STREQUAL "lib/collectd")
  message(WARNING "QF_PLUGIN_INSTALL_DIR is ${QF_PLUGIN_INSTALL_DIR}: the "
          ".deb would put the plugins outside collectd's PluginDir "
          "/usr/lib/collectd; configure with -DQF_PLUGIN_INSTALL_DIR=lib/collectd")
endif()

# ---------------------------------------------------------------- CPack DEB
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME qiflow)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "QiFlow maintainers <qiflow@localhost>")
set(CPACK_PACKAGE_VENDOR "QiFlow")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "QiFlow swarm heartbeat: collectd plugins and REST exporter")
set(CPACK_PACKAGE_DESCRIPTION
"collectd plugins qiflow_agents (agent registry), qiflow_github (GitHub
project figures and flags) and qiflow_heartbeat (heartbeats to the central
backend, with spool and webhooks), the qiflow-exporter daemon serving the
QiFlow REST API and Prometheus metrics from collectd's unixsock socket, and
qiflow-migrate for the earlier Python agent's settings.ini.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# Absolute destinations (the unit) need DESTDIR staging.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://qiflow.example/")
# Library dependencies from the ELF files (libcurl4, libyajl2,
# libmicrohttpd12, libcollectdclient1, zlib1g, libc6, with versions);
# the rest by hand: the daemon the plugins run in, and python3 for
# qiflow-migrate.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Cross builds (cmake/toolchain/): the package is for the target (arm64,
# armhf), not the build machine, and dpkg-shlibdeps finds the target's
# multiarch libraries itself; libcollectdclient1, unpacked in the sysroot
# with its DEBIAN/shlibs (contrib/dev.sh install_cross), is looked up there.
if(CMAKE_CROSSCOMPILING AND QF_DEB_ARCH)
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${QF_DEB_ARCH})
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${QF_CROSS_SYSROOT}/usr/lib)
endif()
set(CPACK_DEBIAN_PACKAGE_DEPENDS "collectd-core (>= 5.12), python3")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "prometheus")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/cmake/debian/postinst
    ${CMAKE_SOURCE_DIR}/cmake/debian/prerm
    ${CMAKE_SOURCE_DIR}/cmake/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
