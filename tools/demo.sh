#!/bin/sh
# `make run`: mounts an encrypted scratch with the built-in defaults (hbi=1,
# ephemeral key) and shows that what the job writes is ciphertext on disk.
# Leaves it mounted for you to use; unmount with the command it prints.
set -eu
BUILD=${1:-build}
DEMO=${SCRATCHFS_DEMO_DIR:-/tmp/scratchfs-demo}
BACKING=$DEMO/backing
MNT=$DEMO/mnt

case "$DEMO" in /tmp/*) ;; *) echo "demo dir must be under /tmp" >&2; exit 1 ;; esac
# A previous demo's ephemeral volume is unreadable by design: start fresh.
if mountpoint -q "$MNT" 2>/dev/null; then fusermount3 -u "$MNT"; fi
rm -rf "$BACKING"
mkdir -p "$BACKING" "$MNT"

# An empty config: built-in defaults even if /etc/scratchfs/scratchfs.conf
# exists.
: > "$DEMO/empty.conf"
"$BUILD/scratchfs" -c "$DEMO/empty.conf" "$BACKING" "$MNT"

echo "== mounted:"
grep " $MNT " /proc/mounts
echo "secret payroll data" > "$MNT/salaries.txt"
mkdir "$MNT/results"
echo "== through the mount:"
ls -la "$MNT"
cat "$MNT/salaries.txt"
echo "== on the backing disk (what an offline reader sees):"
ls -la "$BACKING"
if grep -r -a -q "payroll" "$BACKING" || ls -R "$BACKING" | grep -q salaries; then
	echo "FAIL: plaintext found in $BACKING" >&2
	exit 1
fi
echo "== no plaintext name or content in $BACKING"
echo
echo "scratch is mounted at $MNT (backing $BACKING)."
echo "unmount (destroys the ephemeral key): fusermount3 -u $MNT"
