/* Force-included by tests/lint/lint.sh for cppcheck only. cppcheck does
 * not read system headers, and collectd's headers stop with #error
 * without two facts they take from them: the byte order (<endian.h>) and
 * the double layout (collectd/core/config.h, included by a system path).
 * These are the values Debian's amd64/arm64 headers give. */
#define __LITTLE_ENDIAN 1234
#define FP_LAYOUT_NEED_NOTHING 1
