/* dlhost SDK — status codes.
 *
 * Every call across the plugin ABI returns int: 0 (DLH_OK) or a negative
 * DLH_E* code.  The human-readable message is set beforehand through the
 * host's error() call; dlh_strerror() names the code itself. */
#ifndef DLHOST_STATUS_H
#define DLHOST_STATUS_H

/* X(name, value, description): the one list codes and messages come from. */
#define DLH_STATUS_MAP(X)                                   \
    X(OK,          0,   "success")                          \
    X(EINVAL,      -1,  "invalid argument")                 \
    X(ENOMEM,      -2,  "out of memory")                    \
    X(EIO,         -3,  "input/output error")               \
    X(ECONFIG,     -4,  "configuration error")              \
    X(EPLUGIN,     -5,  "plugin error")                     \
    X(EUNSUPPORTED,-6,  "operation not supported")          \
    X(EDEVICE,     -7,  "device error")                     \
    X(ESHAPE,      -8,  "shape mismatch")                   \
    X(EPARSE,      -9,  "parse error")                      \
    X(ENUMERIC,    -10, "non-finite value")                 \
    X(ENOTFOUND,   -11, "not found")                        \
    X(ERANGE,      -12, "value out of range")               \
    X(EDATA,       -13, "malformed data")

enum dlh_status {
#define DLH_STATUS_ENUM_(name, value, desc) DLH_##name = value,
    DLH_STATUS_MAP(DLH_STATUS_ENUM_)
#undef DLH_STATUS_ENUM_
};

/* The fixed description of a status code ("unknown status" for others).
 * Header-only so that plugins need not link against libdlhost. */
static inline const char *dlh_strerror(int status)
{
    switch (status) {
#define DLH_STATUS_CASE_(name, value, desc) case value: return desc;
    DLH_STATUS_MAP(DLH_STATUS_CASE_)
#undef DLH_STATUS_CASE_
    default: return "unknown status";
    }
}

#endif
