#!/bin/bash
# walk.sh - what parking by path costs: a cold walk (find | xargs stat) of
# WALK_FILES files (default 300,000) through scratchfs hbi=0 mounted by root,
# whose daemon reopens the descriptors it parked by file handle, and by an
# ordinary user, whose daemon reopens them by path. Both daemons keep the
# open-file limit they inherit (20,000 on these VMs), so most entries of the
# walk are parked and reopened.
#
# Usage (as root): bench/walk.sh [BUILD] [OUT]   (called by bench.sh)
#   prints one line per mounter, and appends them to OUT when given.
# Environment: WALK_FILES=N, BENCH_DIR=DIR (default /var/tmp).
#
# It makes a user of its own (useradd) and removes it on exit; /dev/fuse is
# opened to others while the user mounts when it is not already (libfuse
# opens it before fusermount3 mounts), and put back, under the lock
# tests/test_user.c takes for the same. Everything else lives in one
# mkdtemp directory under BENCH_DIR, removed on exit, also on Ctrl-C.
set -Eeu -o pipefail
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:-$here/../build}" && pwd)
OUTF=${2:-}
SFS=$BUILD/scratchfs
FILES=${WALK_FILES:-300000}
PER_DIR=1000
TCK=$(getconf CLK_TCK)

die() {
	echo "walk: $*" >&2
	exit 1
}
[ "$(id -u)" = 0 ] || die "must run as root (useradd, drop_caches)"
[ -x "$SFS" ] || die "$SFS not built"

WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/sfs-walk.XXXXXX")
chmod 755 "$WORK"
USER_NAME="sfs-walk-$$"
USER_MADE=0
FUSE_MODE=""
DPID=""
MNT=""

cleanup() {
	trap - EXIT INT TERM HUP
	set +e
	[ -n "$MNT" ] && { fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT"; }
	[ -n "$DPID" ] && { sleep 1; kill -KILL "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null; }
	close_fuse
	[ "$USER_MADE" = 1 ] && userdel "$USER_NAME"
	rm -rf --one-file-system -- "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

useradd -M -N -g users -d /nonexistent -s /usr/sbin/nologin "$USER_NAME"
USER_MADE=1

open_fuse() {
	local mode
	exec 9>/run/lock/sfs-dev-fuse.lock
	flock 9
	mode=$(stat -c %a /dev/fuse)
	case $mode in *66) ;; *) FUSE_MODE=$mode; chmod 666 /dev/fuse ;; esac
}
close_fuse() {
	[ -z "$FUSE_MODE" ] || chmod "$FUSE_MODE" /dev/fuse
	FUSE_MODE=""
	exec 9>&-
}
: >"$WORK/scratchfs.conf"
chmod 644 "$WORK/scratchfs.conf"

# as WHO CMD...: runs CMD as root or as the walk's user.
as() {
	local who=$1
	shift
	if [ "$who" = root ]; then
		"$@"
	else
		setpriv --reuid="$USER_NAME" --regid=users --clear-groups -- "$@"
	fi
}

mount_as() {
	local who=$1 bk=$2 mnt=$3
	local run=()
	[ "$who" = root ] || { run=(setpriv --reuid="$USER_NAME" --regid=users --clear-groups --); open_fuse; }
	"${run[@]}" "$SFS" -f -c "$WORK/scratchfs.conf" -o hbi=0 "$bk" "$mnt" \
		>>"$WORK/daemon-$who.log" 2>&1 &
	DPID=$!
	MNT=$mnt
	for _ in $(seq 200); do
		as "$who" mountpoint -q "$mnt" && { close_fuse; return 0; }
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.05
	done
	close_fuse
	cat "$WORK/daemon-$who.log" >&2
	die "$who could not mount $mnt"
}

unmount() {
	fusermount3 -u "$MNT" 2>/dev/null || umount "$MNT"
	wait "$DPID" || true
	DPID="" MNT=""
}

for who in root user; do
	base=$WORK/$who
	mkdir -p "$base/backing" "$base/mnt"
	[ "$who" = root ] || chown -R "$USER_NAME:users" "$base"
	# The first mount makes the volume; the tree is then made in the
	# backing directory directly (hbi=0 stores names as they are).
	mount_as "$who" "$base/backing" "$base/mnt"
	unmount
	as "$who" /usr/bin/python3 -c '
import os, sys
top, n, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.mkdir(top)
for d in range((n + per - 1) // per):
    os.mkdir(f"{top}/d{d:04d}")
for i in range(n):
    open(f"{top}/d{i // per:04d}/f{i:07d}", "w").close()
' "$base/backing/tree" "$FILES" "$PER_DIR"
	mount_as "$who" "$base/backing" "$base/mnt"
	sync
	echo 3 >/proc/sys/vm/drop_caches
	t0=$(date +%s.%N)
	# shellcheck disable=SC2016 # $1 is the inner shell's
	as "$who" sh -c 'find "$1/tree" -print0 | xargs -0 stat -c "%i %s %Y" | wc -l' \
		sh "$base/mnt" >"$WORK/count"
	t1=$(date +%s.%N)
	cpu=$(sed 's/.*) //' "/proc/$DPID/stat" | awk -v t="$TCK" '{ printf "%.1f", ($12 + $13) / t }')
	hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$DPID/status")
	lim=$(awk '/^Max open files/ { print $4 }' "/proc/$DPID/limits")
	reopen=$(grep -o 'reopened by [a-z]*' "$WORK/daemon-$who.log" | head -1 || true)
	unmount
	line=$(awk -v w="$who" -v a="$t0" -v b="$t1" -v n="$(cat "$WORK/count")" \
		-v c="$cpu" -v h="$hwm" -v l="$lim" -v r="${reopen:-no parking}" \
		'BEGIN { printf "walk %-4s %d entries: %.1f s, daemon CPU %s s, VmHWM %d KiB, open-file limit %s, %s\n", w, n, b - a, c, h, l, r }')
	echo "$line"
	[ -z "$OUTF" ] || echo "$line" >>"$OUTF"
	rm -rf --one-file-system -- "$base"
done
