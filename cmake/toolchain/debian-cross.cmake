# debian-cross.cmake: what the per-architecture toolchain files here share.
# They set QF_TRIPLET (GNU triplet) and QF_DEB_ARCH (Debian architecture)
# and include this file. It compiles with Debian's cross gcc
# (gcc-<triplet>), takes the target's libraries from Debian multiarch
# (/usr/lib/<triplet>, packages installed as <pkg>:<arch> after
# `dpkg --add-architecture <arch>`), and runs target programs (tests,
# try_run) under qemu-user. contrib/dev.sh installs all of it for the
# `arm` stage (QF_STAGES=arm contrib/dev.sh deps).
#
# Two Debian 12 packages cannot be co-installed with the amd64 ones because
# they are not multiarch: libcollectdclient1/-dev (in /usr/lib, not
# /usr/lib/<triplet>) and collectd-core. contrib/dev.sh unpacks them into
# QF_CROSS_SYSROOT (default build-deps/sysroot-<arch>), which pkg-config,
# the linker, qemu (-L) and dpkg-shlibdeps (cpack) also search.

set(CMAKE_SYSTEM_NAME Linux)
# Recorded for cmake/Packaging.cmake (the .deb's architecture) and the tests.
set(QF_DEB_ARCH ${QF_DEB_ARCH} CACHE INTERNAL "Debian architecture of this build")
set(CMAKE_C_COMPILER ${QF_TRIPLET}-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE ${QF_TRIPLET})

get_filename_component(_qf_top "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)
set(QF_CROSS_SYSROOT "${_qf_top}/build-deps/sysroot-${QF_DEB_ARCH}" CACHE PATH
    "Unpacked non-multiarch ${QF_DEB_ARCH} packages (libcollectdclient, collectd-core)")
if(NOT EXISTS "${QF_CROSS_SYSROOT}/usr/lib/libcollectdclient.so")
  message(FATAL_ERROR "${QF_CROSS_SYSROOT} has no ${QF_DEB_ARCH} libcollectdclient: "
          "run `QF_STAGES=arm contrib/dev.sh deps` (or set QF_CROSS_SYSROOT)")
endif()

# pkg-config sees only the target's .pc files (and the sysroot's).
set(ENV{PKG_CONFIG_LIBDIR}
    "/usr/lib/${QF_TRIPLET}/pkgconfig:/usr/share/pkgconfig:${QF_CROSS_SYSROOT}/usr/lib/pkgconfig")
unset(ENV{PKG_CONFIG_PATH})

# Headers and libraries: the multiarch ones (/usr/include is shared, the
# cross gcc searches /usr/include/<triplet> and /usr/lib/<triplet>), the
# sysroot's libcollectdclient, and the build programs (gzip) of the host.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-L${QF_CROSS_SYSROOT}/usr/lib")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-L${QF_CROSS_SYSROOT}/usr/lib")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-L${QF_CROSS_SYSROOT}/usr/lib")

# Target programs run under qemu-user: the target's loader and multiarch
# libraries are where the target expects them; -L puts the sysroot first.
find_program(QF_QEMU qemu-${QF_QEMU_ARCH} REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR "${QF_QEMU};-L;${QF_CROSS_SYSROOT}")
