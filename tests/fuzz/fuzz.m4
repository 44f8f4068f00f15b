# DLH_CHECK_FUZZ: whether `make fuzz` can build libFuzzer targets.
# Looks for clang (or the FUZZ_CC given) and tries to link a fuzz target with
# -fsanitize=fuzzer,address,undefined; substitutes FUZZ_CC and FUZZ_OK
# (yes or no).  `make fuzz` reads FUZZ_OK and says what to install when it
# is no; nothing else in the build depends on it.
AC_DEFUN([DLH_CHECK_FUZZ], [
AC_ARG_VAR([FUZZ_CC], [C compiler with libFuzzer for `make fuzz' (default: clang)])
AC_CHECK_PROGS([FUZZ_CC], [clang clang-16 clang-15 clang-14], [none])
AC_MSG_CHECKING([whether $FUZZ_CC links libFuzzer targets with ASan and UBSan])
FUZZ_OK=no
AS_IF([test "x$FUZZ_CC" != xnone], [
  dlh_fuzz_save_CC=$CC dlh_fuzz_save_CFLAGS=$CFLAGS dlh_fuzz_save_LIBS=$LIBS
  CC=$FUZZ_CC CFLAGS="-fsanitize=fuzzer,address,undefined" LIBS=
  # libFuzzer brings main(); the program is a fuzz target.
  AC_LINK_IFELSE([AC_LANG_SOURCE([[
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return size > 0 && data[0] == 0 ? 0 : 0;
}
]])], [FUZZ_OK=yes])
  CC=$dlh_fuzz_save_CC CFLAGS=$dlh_fuzz_save_CFLAGS LIBS=$dlh_fuzz_save_LIBS])
AC_MSG_RESULT([$FUZZ_OK])
AC_SUBST([FUZZ_OK])
])
