# Cross build for armhf (32-bit Raspberry Pi OS, Debian armhf):
#   cmake -S . -B build-armhf --toolchain cmake/toolchain/arm-linux-gnueabihf.cmake
# time_t stays 32 bits, the ABI of Debian 12's armhf libraries and of the
# collectd that loads the plugins (-D_TIME_BITS=64 would give our code a
# time_t of another width than theirs); see docs/install.md.
set(CMAKE_SYSTEM_PROCESSOR arm)
set(QF_TRIPLET arm-linux-gnueabihf)
set(QF_DEB_ARCH armhf)
set(QF_QEMU_ARCH arm)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
