#!/bin/sh
# The cuda backend's NVRTC kernel cache is bounded ($DLHOST_CUDA_CACHE_MB,
# plugins/backends/cuda/cu_cache_trim.c), on the fake driver and cuBLAS of
# tests/fake_cuda (NVRTC is real: the first run compiles).  Checks: the
# least recently used entries go first and the ones the run used stay
# (same inode: neither removed nor compiled again); a writer's fresh
# temporary file and files that are not entries are never touched, a
# crashed writer's day-old one is; 0 empties it; a bad value is one warning
# and the default; a folder that cannot be written to fails nothing; runs
# side by side with a bound of 0 all succeed.
# SKIPs by name when the cuda plugin, the fake or NVRTC is not here.

. "${DLHOST_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

need_dlhost
have_backend cuda || skip_all "cuda: not built (configure found no CUDA toolkit)"
b=${DLHOST_BUILDDIR:-.}
fake=$(cd "$b" && pwd)/tests/fake_cuda/.libs/fake_cuda.so
[ -f "$fake" ] || skip_all "cuda fake: tests/fake_cuda is not built"
cd "$TAP_TMP" || exit 1
DLHOST_CACHE_DIR=$TAP_TMP/cache
DLHOST_CUDA_DRIVER=$fake
DLHOST_CUBLAS=$fake
export DLHOST_CACHE_DIR DLHOST_CUDA_DRIVER DLHOST_CUBLAS
c=$DLHOST_CACHE_DIR/cuda

cuda_regression_cfg r.cfg 1
n=0
train() {  # train [ENV=VALUE...]: one run, exit status in RC
    n=$((n + 1))
    run_cmd env "$@" "$dlhost" run r.cfg --runs "runs$n"
}
train
if [ "$RC" -ne 0 ] && grep -q 'no NVRTC' "$ERR_FILE"; then
    skip_all "cuda: $(head -1 "$ERR_FILE")"
fi
ok "$RC" "a cold run fills the cache"
ls "$c" | grep -E '^[0-9a-f]{16}\.ptx$' | sort > real
real_n=$(wc -l < real | tr -d ' ')
[ "$real_n" -gt 1 ]
ok $? "the cache has its entries ($real_n)"
real_kib=$(cd "$c" && cat $(cat ../../real) | wc -c | awk '{ print int(($1 + 1023) / 1024) }')
diag "the run's entries: $real_kib KiB"
inodes() { (cd "$c" && ls -i $(cat ../../real) 2>/dev/null | awk '{ print $1 }' | sort); }
inodes > ino1

# Old entries (600 KiB each, oldest first), writers' temporary files (one
# fresh, one a crashed writer's from 2001) and a file that is not ours.
i=1
for y in 2001 2002 2003; do
    head -c 614400 /dev/zero > "$c/00000000000000a$i.ptx"
    touch -d "$y-01-01" "$c/00000000000000a$i.ptx"
    i=$((i + 1))
done
head -c 1000 /dev/zero > "$c/00000000000000b1.ptx.4242.0.tmp"
head -c 1000 /dev/zero > "$c/00000000000000b2.ptx.4243.0.tmp"
touch -d 2001-01-01 "$c/00000000000000b2.ptx.4243.0.tmp"
head -c 2000000 /dev/zero > "$c/notes.txt"
touch -d 2000-01-01 "$c/notes.txt"
# The run's own entries older still: the warm run's hits must touch them,
# or they would be the first to go.
(cd "$c" && touch -d 1999-01-01 $(cat ../../real))

train DLHOST_CUDA_CACHE_MB=1
ok "$RC" "a warm run with a 1 MiB bound"
is "$(cat "$ERR_FILE")" "" "the bound says nothing"
[ ! -e "$c/00000000000000a1.ptx" ] && [ ! -e "$c/00000000000000a2.ptx" ]
ok $? "the two least recently used entries are removed"
if [ "$real_kib" -le 400 ]; then
    [ -e "$c/00000000000000a3.ptx" ]
    ok $? "the third fits under the bound beside the run's ($real_kib KiB): kept"
else
    skip "the run's entries take $real_kib KiB: the third old one cannot fit under 1 MiB"
fi
inodes > ino2
cmp -s ino1 ino2 && [ "$(wc -l < ino2 | tr -d ' ')" -eq "$real_n" ]
ok $? "every entry the run used stays (a hit touches it), not compiled again (same inodes)"
[ -e "$c/00000000000000b1.ptx.4242.0.tmp" ]
ok $? "a writer's fresh temporary file is not touched"
[ ! -e "$c/00000000000000b2.ptx.4243.0.tmp" ]
ok $? "a crashed writer's day-old temporary file is removed"
[ -e "$c/notes.txt" ]
ok $? "a file that is not an entry is never removed (even old and big)"

train DLHOST_CUDA_CACHE_MB=lots
ok "$RC" "a bad bound: the run goes on"
like "$ERR_FILE" "cuda: DLHOST_CUDA_CACHE_MB 'lots' is not a whole number of MiB (0 or more): the kernel cache is bounded to 256 MiB" \
    "a bad bound: one warning"
is "$(wc -l < "$ERR_FILE" | tr -d ' ')" 1 "a bad bound: one line"
[ -e "$c/00000000000000a3.ptx" ] || [ "$real_kib" -gt 400 ]
ok $? "a bad bound: the default (256 MiB) removes nothing more"

train DLHOST_CUDA_CACHE_MB=0
ok "$RC" "a bound of 0"
is "$(ls "$c" | grep -cE '^[0-9a-f]{16}\.ptx$')" 0 "a bound of 0 keeps no entry"
[ -e "$c/notes.txt" ] && [ -e "$c/00000000000000b1.ptx.4242.0.tmp" ]
ok $? "a bound of 0 leaves the rest"

# Side by side: each run compiles, writes, reads and empties the folder
# while the others do; none may fail.
for k in 1 2 3; do
    DLHOST_CUDA_CACHE_MB=0 "$dlhost" run r.cfg --runs "par$k" > par$k.out 2>&1 &
    eval "pid$k=\$!"
done
fails=0
for k in 1 2 3; do
    eval "wait \$pid$k" || { fails=$((fails + 1)); sed 's/^/# /' par$k.out; }
done
is "$fails" 0 "three runs side by side with a bound of 0 all succeed"

# A folder the run cannot write to: nothing fails.
train DLHOST_CUDA_CACHE_MB=1
if [ "$(id -u)" -ne 0 ]; then
    chmod 500 "$c"
    train DLHOST_CUDA_CACHE_MB=0
    ok "$RC" "a read-only cache folder: the run goes on"
    is "$(cat "$ERR_FILE")" "" "a read-only cache folder: nothing said"
    chmod 700 "$c"
else
    skip "a read-only cache folder: root writes anywhere"
fi
done_testing
