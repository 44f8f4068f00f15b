/* safetensors files: the checkpoint format (Hugging Face safetensors, so a
 * checkpoint loads straight into PyTorch with safetensors.torch.load_file).
 *
 * Layout: 8-byte little-endian header length N, N bytes of JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"key": "string value", ...}}, then the tensor bytes.
 * Writing is atomic: a temporary file in the same folder, checked writes,
 * fsync, rename over the target, fsync of the folder; on any failure the old
 * file is untouched and the temporary one removed.  Reading validates
 * everything before using it (header length bound, JSON syntax, known dtypes,
 * shape x dtype size = byte span, offsets contiguous, in order, non-
 * overlapping and covering the data exactly, file length exact) and names
 * the file and what is wrong. */
#ifndef DLHOST_CORE_SAFETENSORS_H
#define DLHOST_CORE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include <dlhost/dlhost.h>

typedef struct dlh_st_entry {
    const char *name;               /* "fc1.weight" */
    int32_t dtype;                  /* DLH_F32, DLH_I32 or DLH_I64 */
    int32_t ndim;
    int64_t shape[DLH_MAX_DIMS];
    const void *data;               /* host memory, numel * 4 bytes (8 for
                                       I64); in a read file maybe unaligned */
} dlh_st_entry;

typedef struct dlh_st_meta {
    const char *key, *value;
} dlh_st_meta;

/* Writes `entries` (in the given order) and `meta` to `path` atomically.
   DLH_EIO with "path: what failed: strerror" on failure. */
int dlh_st_write(const char *path, const dlh_st_entry *entries, size_t n,
                 const dlh_st_meta *meta, size_t n_meta);

/* Additive (issue 3): dlh_st_write with the tensor bytes supplied one entry
   at a time, so a caller can stream them through one staging buffer.
   `fill` is called for entry i in order, after the header is written, and
   sets *data to the entry's bytes valid until the next call; entries[i].data is
   ignored.  A negative return from fill (message set) aborts the write and
   leaves the old file as it was. */
typedef int (*dlh_st_fill_fn)(void *user, size_t i, const void **data);
int dlh_st_write_fill(const char *path, const dlh_st_entry *entries, size_t n,
                      const dlh_st_meta *meta, size_t n_meta, dlh_st_fill_fn fill,
                      void *user);

/* Additive (issue 3): replaces `path` with `len` bytes atomically, the same
   way dlh_st_write does (rundir's config.cfg and metrics.csv use it).
   DLH_EIO with "path: what failed: strerror". */
int dlh_file_write_atomic(const char *path, const void *data, size_t len);

/* The JSON escape of byte c (backslash-n for a newline, backslash-u0001
   for byte 1; tmp holds one built here), or NULL when c stands for itself
   (UTF-8 included). */
const char *dlh_json_escape(unsigned char c, char tmp[8]);

/* A file read and validated in memory. */
typedef struct dlh_st_file dlh_st_file;

/* Reads and validates `path`; DLH_EIO for an unreadable file, DLH_EDATA with
   "path: <what is wrong>" for a malformed one.  Only F32, I32 and I64 tensors are
   read (any other dtype is refused by name); the tensors may be listed in
   any order in the header, as the reference reader allows, but their byte
   ranges must tile the data section exactly.  Tensor names and metadata are
   UTF-8 without NUL characters. */
int dlh_st_read(const char *path, dlh_st_file **out);
/* Additive (issue 14): dlh_st_read, and with DLH_ST_READ_WIDE also F16,
   BF16 and F64 tensors (dtype DLH_F16, DLH_BF16, DLH_ST_F64; 2, 2 and 8
   bytes an element), as PyTorch's state_dict files hold them (pretrained.c
   converts them).  Plain dlh_st_read refuses them as before. */
#define DLH_ST_READ_WIDE 1
#define DLH_ST_F64 64               /* not a dlh_dtype: no tensor holds it */
int dlh_st_read_ex(const char *path, int flags, dlh_st_file **out);
void dlh_st_free(dlh_st_file *f);
size_t dlh_st_count(const dlh_st_file *f);
/* Entry i (data points into the file's memory, valid until dlh_st_free). */
const dlh_st_entry *dlh_st_at(const dlh_st_file *f, size_t i);
/* The entry named `name`, or NULL. */
const dlh_st_entry *dlh_st_find(const dlh_st_file *f, const char *name);
/* The metadata value of `key`, or NULL. */
const char *dlh_st_meta_get(const dlh_st_file *f, const char *key);
size_t dlh_st_meta_count(const dlh_st_file *f);
/* Metadata entry i, in key order (NULL past the end). */
const dlh_st_meta *dlh_st_meta_at(const dlh_st_file *f, size_t i);

/* The streaming form of dlh_file_write_atomic (dlhost predict, embed): open
   makes a temporary file in path's folder, write appends to it, commit
   fsyncs it, renames it over path and fsyncs the folder, abort removes it
   (the target untouched).  Commit and abort end the file either way. */
typedef struct dlh_atomic_file {
    const char *path;
    char *dir;                      /* folder of path, for the final fsync */
    char *tmp;                      /* NULL once renamed or removed */
    int fd;
} dlh_atomic_file;
int dlh_atomic_open(dlh_atomic_file *af, const char *path);
int dlh_atomic_write(dlh_atomic_file *af, const void *data, size_t len);
int dlh_atomic_commit(dlh_atomic_file *af);
void dlh_atomic_abort(dlh_atomic_file *af);

#endif
