/* FNV-1a, 64 bit: the core's one hash for names (a layer's random streams),
 * settings (a checkpoint's config_hash) and data (its fingerprint). */
#ifndef DLHOST_CORE_HASH_H
#define DLHOST_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define DLH_FNV1A64_INIT 0xcbf29ce484222325ull

/* h continued over n bytes at p. */
static inline uint64_t dlh_fnv1a64(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* h continued over the characters of s. */
static inline uint64_t dlh_fnv1a64_str(uint64_t h, const char *s)
{
    return dlh_fnv1a64(h, s, strlen(s));
}

#endif
