# Cross build for arm64 (Raspberry Pi OS 64-bit, Debian arm64):
#   cmake -S . -B build-arm64 --toolchain cmake/toolchain/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(QF_TRIPLET aarch64-linux-gnu)
set(QF_DEB_ARCH arm64)
set(QF_QEMU_ARCH aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
