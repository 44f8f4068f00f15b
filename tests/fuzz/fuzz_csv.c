/* Fuzz target: the csv dataset reader (plugins/datasets/csv.c).
 *
 * Input: an 8-byte header choosing the reader's parameters, then the CSV
 * file's bytes.
 *   byte 0     bits 0-1: label "class", "dense", "none" (3: class again);
 *              bit 2: header = true; bits 3-5: the delimiter, one of
 *              , ; tab space | : x and "." (which the reader refuses);
 *              bit 6: byte 1 gives label_column (signed) or label_columns;
 *              bit 7: stream = true (rows parsed from the file at each read);
 *   byte 2     the number of shape dimensions (0: no `shape`);
 *   bytes 3-7  those dimensions.
 * The parameters are written in experiment-file syntax and always parse:
 * text that libconfig rejects would cost a leak check per input (libconfig
 * 1.5 leaks a token on syntax errors, see lsan.supp) and test libconfig,
 * which fuzz_experiment covers.  The reader is compiled into the target, so
 * it runs instrumented; fuzz_dataset checks what it promises. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets.h"
#include "fuzz.h"
#include "registry.h"

const dlh_host *datasets_host;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const labels[] = { "class", "dense", "none", "class" };
    static const char *const delims[] = { ",", ";", "\\t", " ", "|", ":", "x", "." };
    if (size < 8)
        return 0;
    datasets_host = dlh_host_table();
    const char *path = fuzz_file(0, data + 8, size - 8);
    unsigned flags = data[0];
    char text[512];
    int k = snprintf(text, sizeof text, "path = \"%s\"; label = \"%s\"; header = %s; "
                     "delimiter = \"%s\";", path, labels[flags & 3],
                     flags & 4 ? "true" : "false", delims[flags >> 3 & 7]);
    if (flags & 64)
        k += snprintf(text + k, sizeof text - (size_t)k, (flags & 3) == 1 ?
                      " label_columns = %d;" : " label_column = %d;",
                      (flags & 3) == 1 ? data[1] : (int8_t)data[1]);
    if (flags & 128)
        k += snprintf(text + k, sizeof text - (size_t)k, " stream = true;");
    if (data[2]) {
        k += snprintf(text + k, sizeof text - (size_t)k, " shape = [");
        for (int i = 0; i < data[2] && i < 8; i++)
            k += snprintf(text + k, sizeof text - (size_t)k, "%s%d", i ? ", " : "",
                          i < 5 ? data[3 + i] : 1);
        snprintf(text + k, sizeof text - (size_t)k, "];");
    }
    fuzz_dataset(&csv_ops, text, path);
    return 0;
}
