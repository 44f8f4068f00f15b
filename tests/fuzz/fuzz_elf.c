/* Fuzz target: the ELF reader that checks a plugin's stamp before dlopen
 * (core/elf_peek.c dlh_elf_peek_plugin).
 *
 * Input: the file's bytes.  The reader must refuse with a reason or accept
 * with a consistent answer, whatever the bytes, reading nothing outside
 * them (ASan knows where the copy ends), and give the same answer twice. */
#include <stdlib.h>
#include <string.h>

#include <dlhost/status.h>

#include "elf_peek.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so that a read one byte past the end is caught
       (libFuzzer's own buffer is exact too; the replay's may not be). */
    unsigned char *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    dlh_elf_plugin a, b;
    char why[256], why2[256];
    memset(why, 'x', sizeof why);
    int rc = dlh_elf_peek_plugin(copy, size, &a, why, sizeof why);
    int rc2 = dlh_elf_peek_plugin(copy, size, &b, why2, sizeof why2);
    if (rc != rc2 || memcmp(&a, &b, sizeof a) != 0)
        fuzz_fail("two reads of the same bytes disagree (%d, %d)", rc, rc2);
    if (rc == 0) {
        if (!a.has_info && (a.struct_size || a.abi_major || a.abi_minor))
            fuzz_fail("a stamp read without a dlh_plugin symbol");
    } else {
        static const dlh_elf_plugin zero;
        if (rc != DLH_EPLUGIN)
            fuzz_fail("refused with status %d, not DLH_EPLUGIN", rc);
        if (memchr(why, '\0', sizeof why) == NULL || !why[0])
            fuzz_fail("refused without a reason");
        if (memcmp(&a, &zero, sizeof a) != 0)
            fuzz_fail("refused, but the answer is not zeroed");
    }
    /* A NULL reason buffer is allowed. */
    if (dlh_elf_peek_plugin(copy, size, &b, NULL, 0) != rc)
        fuzz_fail("the status depends on the reason buffer");
    free(copy);
    return 0;
}
