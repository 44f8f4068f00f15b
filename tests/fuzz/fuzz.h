/* Helpers shared by the fuzz targets (tests/fuzz/fuzz_*.c).
 *
 * Each target is built twice: with clang and libFuzzer by `make fuzz`, and
 * with the normal compiler into a replay program that `make check` runs over
 * the seed and regression corpora (replay.c).  Inputs reach readers that
 * take a path through in-memory files (memfd) opened once per process, so an
 * input costs no file system work and leaves nothing behind.  A target that
 * finds a broken promise (a bad status code, a message without the file's
 * name, an out-of-range label) calls fuzz_fail, which aborts: libFuzzer and
 * the replay both report that as a crash of the input. */
#ifndef DLHOST_TESTS_FUZZ_H
#define DLHOST_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include <dlhost/dlhost.h>

#include "params.h"

/* Prints "fuzz: <message>" and the current dlhost error to stderr, then
   aborts. */
void fuzz_fail(const char *fmt, ...) DLH_PRINTF(1, 2) __attribute__((noreturn));

/* Replaces the contents of in-memory file `slot` (0 or 1) with data[0..size)
   and returns its path ("/proc/self/fd/N"), valid until exit.  The file is
   made on first use. */
const char *fuzz_file(int slot, const void *data, size_t size);

/* The status a failing call returned and the message it set: rc must be a
   DLH_E* code, the message non-empty, and for a data file's own faults
   (DLH_EDATA, DLH_EIO) it must name `path` (when not NULL). */
void fuzz_check_error(int rc, const char *path);

/* Opens dataset reader `ops` over the params text `params` (its file names
   absolute: fuzz_file's), as data.train, as an experiment would; then checks
   the reader's promises on success (info consistent, every sample readable,
   class labels below n_classes, every value finite) and the error's on
   failure (fuzz_check_error with `path`).  Everything is freed. */
void fuzz_dataset(const dlh_dataset_ops *ops, const char *params, const char *path);

#endif
