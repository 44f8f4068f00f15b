/* Capturing what a C test's code under test writes to stderr (warnings of
 * the loader, for instance): capture_begin() sends fd 2 to a temporary
 * file, capture_end() puts fd 2 back and returns what was written
 * (malloc'd; "" when the capture could not be set up).  Not nested. */
#ifndef DLHOST_TESTS_CAPTURE_H
#define DLHOST_TESTS_CAPTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int capture_saved_fd_ = -1;
static FILE *capture_file_;

static inline void capture_begin(void)
{
    fflush(stderr);
    capture_file_ = tmpfile();
    capture_saved_fd_ = dup(2);
    if (capture_file_ && capture_saved_fd_ >= 0)
        dup2(fileno(capture_file_), 2);
}

static inline char *capture_end(void)
{
    fflush(stderr);
    if (capture_saved_fd_ >= 0) {
        dup2(capture_saved_fd_, 2);
        close(capture_saved_fd_);
        capture_saved_fd_ = -1;
    }
    if (!capture_file_)
        return strdup("");
    long n = ftell(capture_file_);
    char *text = malloc(n > 0 ? (size_t)n + 1 : 1);
    size_t got = 0;
    rewind(capture_file_);
    if (text && n > 0)
        got = fread(text, 1, (size_t)n, capture_file_);
    if (text)
        text[got] = '\0';
    fclose(capture_file_);
    capture_file_ = NULL;
    return text;
}

#endif
