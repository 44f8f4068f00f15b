/* Which files dlhost trusts as plugins.
 *
 * A plugin runs with all the rights of the user running dlhost, so it is
 * loaded only from places that nobody but root and that user can change (the
 * rule ssh's StrictModes and sudo apply to their own files).  After every
 * symbolic link is resolved:
 *  - the file is a regular file owned by root or the effective user, and not
 *    writable by its group or by others;
 *  - the folder holding it, and the folder holding the name it was given by
 *    (where a symbolic link led elsewhere), are owned by root or the effective
 *    user and are not writable by their group or by others, sticky or not;
 *  - every folder above those, up to /, is not writable by others unless
 *    its sticky bit is set (so /tmp/x/plugins is trusted when x is the
 *    user's and 0755).  A folder above writable by its group is accepted:
 *    /usr/local is root:staff 2775 on older Debian systems, and staff are
 *    administrators by design.  Nor is the owner of a folder above checked,
 *    unlike ssh's StrictModes: a container that runs as root in a workspace
 *    the host's CI user owns (/__w, /builds) would have every plugin
 *    refused; the owner of such a folder could rename the tree below it.
 * "Not writable by its group" allows one exception, the one Debian's OpenSSH
 * makes: the group is the owner's private group, whose only member is the
 * owner.  With umask 002, the default for users of Ubuntu and Fedora, every
 * file and folder a user makes is writable by that group, the build tree's
 * plugins included.
 *
 * Not thread-safe (getpwent); the loader runs at start-up. */
#ifndef DLHOST_CORE_PLUGIN_TRUST_H
#define DLHOST_CORE_PLUGIN_TRUST_H

#include <sys/types.h>

/* Checks the plugin file `path` (absolute) and the folders leading to it.
   Returns 0 and, when `resolved` is not NULL, the path with every symbolic
   link resolved (malloc'd; the caller frees it): load that one, so that no
   link is followed again between the check and dlopen.  Otherwise returns
   DLH_EPLUGIN with the message "<path>: refused: <reason>; <fix>",
   "<path>: cannot load: not a regular file" or "<path>: cannot load:
   <errno text>" (DLH_ENOMEM when memory ran out). */
int dlh_plugin_trust_file(const char *path, char **resolved);

/* Checks the plugin folder `dir` and the folders above it by the same rule,
   so that a folder scan reports an untrusted folder once.  Returns 0, or
   DLH_EPLUGIN with "<dir>: refused: ..." or "<dir>: cannot read: ...". */
int dlh_plugin_trust_dir(const char *dir);

/* 1 when `gid` is the private group of user `uid`: the user is its only
   member, as primary group or listed; 0 otherwise or when the user or group
   is unknown. */
int dlh_plugin_trust_private_group(uid_t uid, gid_t gid);

#endif
