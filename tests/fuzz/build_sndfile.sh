#!/bin/sh
# Builds libsndfile from its source tree instrumented for `make fuzz`
# (libFuzzer's coverage, ASan, UBSan), static and without external
# libraries (so WAV, AIFF, AU, CAF, ... but no FLAC, Ogg or MP3):
#   build_sndfile.sh SNDFILE_SOURCE_DIR PREFIX [CC]
# then:  rm -f tests/fuzz/fuzz_wav; make fuzz FUZZ_TARGETS=wav \
#          FUZZ_SNDFILE_CFLAGS=-IPREFIX/include \
#          FUZZ_SNDFILE_LIBS=PREFIX/lib/libsndfile.a
# Use the source of the version the system has (sndfile.pc's), so that
# what the fuzzer finds is what the plugin runs.  Needs cmake.
# -fno-sanitize=alignment: libsndfile up to 1.2.2 stores header fields
# through misaligned pointers (libsndfile issue 1150, harmless on x86; our
# regressions/wav/sndfile-1150-*), which would stop every run at once.
set -eu
src=${1:?usage: build_sndfile.sh SNDFILE_SOURCE_DIR PREFIX [CC]}
prefix=${2:?usage: build_sndfile.sh SNDFILE_SOURCE_DIR PREFIX [CC]}
cc=${3:-clang}
build=$prefix/build
cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=None \
    -DCMAKE_C_FLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=alignment -fno-sanitize-recover=all" \
    -DBUILD_SHARED_LIBS=OFF -DENABLE_EXTERNAL_LIBS=OFF -DENABLE_MPEG=OFF \
    -DBUILD_PROGRAMS=OFF -DBUILD_EXAMPLES=OFF -DBUILD_TESTING=OFF -DBUILD_REGTEST=OFF \
    -DENABLE_CPACK=OFF -DINSTALL_MANPAGES=OFF -DCMAKE_INSTALL_PREFIX="$prefix"
cmake --build "$build" --target install
