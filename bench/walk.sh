#!/bin/bash
# walk.sh - a cold walk (find | xargs stat) of WALK_FILES files (default
# 300,000) through scratchfs, once per WALK_RUNS entry WHO:MODE (default
# "root:hbi1 root:hbi0 user:hbi0"):
# - root:hbi1: the daemon's memory for a tree that big, and per cached
#   entry: its VmRSS after the walk (the kernel still holds every inode)
#   less its VmRSS before, over the entries walked;
# - root:hbi0 against user:hbi0: what parking by path costs. A daemon
#   mounted by root reopens the descriptors it parked by file handle, one
#   mounted by an ordinary user by path. Both keep the open-file limit they
#   inherit (20,000 on these VMs), so most entries of the walk are parked
#   and reopened.
#
# Every mount runs over /dev/fuse (fuse.io_uring = false).
#
# Usage (as root): bench/walk.sh [BUILD] [OUT]   (called by bench.sh)
#   prints one line per run, and appends them to OUT when given.
# Environment: WALK_FILES=N, WALK_RUNS="...", BENCH_DIR=DIR (default /var/tmp).
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
RUNS=${WALK_RUNS:-root:hbi1 root:hbi0 user:hbi0}
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

case " $RUNS " in *" user:"*)
	useradd -M -N -g users -d /nonexistent -s /usr/sbin/nologin "$USER_NAME"
	USER_MADE=1
	;;
esac

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
# Built-in defaults but over /dev/fuse, whatever enable_uring says, as the
# bench measures by default.
echo "fuse = { io_uring = false; };" >"$WORK/scratchfs.conf"
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
	local who=$1 bk=$2 mnt=$3 mode=$4
	local run=()
	[ "$who" = root ] || { run=(setpriv --reuid="$USER_NAME" --regid=users --clear-groups --); open_fuse; }
	local opts="hbi=${mode#hbi}"
	# hbi=1 is mounted twice (the tree is made through the first mount):
	# its volume key is wrapped under a node key file of the walk's own.
	[ "$mode" = hbi1 ] && opts="$opts,key=keyfile:$WORK/node-$who.key"
	"${run[@]}" "$SFS" -f -c "$WORK/scratchfs.conf" -o "$opts" "$bk" "$mnt" \
		>>"$WORK/daemon-$who-$mode.log" 2>&1 &
	DPID=$!
	MNT=$mnt
	for _ in $(seq 200); do
		as "$who" mountpoint -q "$mnt" && { close_fuse; return 0; }
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.05
	done
	close_fuse
	cat "$WORK/daemon-$who-$mode.log" >&2
	die "$who could not mount $mnt"
}

unmount() {
	fusermount3 -u "$MNT" 2>/dev/null || umount "$MNT"
	wait "$DPID" || true
	DPID="" MNT=""
}

# make_tree WHO TOP: WALK_FILES empty files in directories of 1000.
make_tree() {
	as "$1" /usr/bin/python3 -c '
import os, sys
top, n, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.mkdir(top)
for d in range((n + per - 1) // per):
    os.mkdir(f"{top}/d{d:04d}")
for i in range(n):
    os.close(os.open(f"{top}/d{i // per:04d}/f{i:07d}", os.O_CREAT | os.O_WRONLY, 0o644))
' "$2" "$FILES" "$PER_DIR"
}
rss_of() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

for run in $RUNS; do
	who=${run%%:*} mode=${run#*:}
	case $who:$mode in root:hbi0 | root:hbi1 | user:hbi0 | user:hbi1) ;;
	*) die "WALK_RUNS: '$run' is not WHO:MODE (root or user, hbi0 or hbi1)" ;; esac
	base=$WORK/$who-$mode
	mkdir -p "$base/backing" "$base/mnt"
	head -c 32 /dev/urandom >"$WORK/node-$who.key"
	chmod 600 "$WORK/node-$who.key"
	[ "$who" = root ] || chown -R "$USER_NAME:users" "$base" "$WORK/node-$who.key"
	# The first mount makes the volume. hbi=0 stores names as they are,
	# so its tree is made in the backing directory directly; an hbi=1
	# tree is made through this first mount.
	mount_as "$who" "$base/backing" "$base/mnt" "$mode"
	[ "$mode" = hbi1 ] && make_tree "$who" "$base/mnt/tree"
	unmount
	[ "$mode" = hbi0 ] && make_tree "$who" "$base/backing/tree"
	mount_as "$who" "$base/backing" "$base/mnt" "$mode"
	sync
	echo 3 >/proc/sys/vm/drop_caches
	rss0=$(rss_of "$DPID")
	t0=$(date +%s.%N)
	# shellcheck disable=SC2016 # $1 is the inner shell's
	as "$who" sh -c 'find "$1/tree" -print0 | xargs -0 stat -c "%i %s %Y" | wc -l' \
		sh "$base/mnt" >"$WORK/count"
	t1=$(date +%s.%N)
	rss1=$(rss_of "$DPID")
	cpu=$(sed 's/.*) //' "/proc/$DPID/stat" | awk -v t="$TCK" '{ printf "%.1f", ($12 + $13) / t }')
	hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$DPID/status")
	lim=$(awk '/^Max open files/ { print $4 }' "/proc/$DPID/limits")
	reopen=$(grep -o 'reopened by [a-z]*' "$WORK/daemon-$who-$mode.log" | head -1 || true)
	unmount
	line=$(awk -v w="$who" -v m="$mode" -v a="$t0" -v b="$t1" -v n="$(cat "$WORK/count")" \
		-v c="$cpu" -v h="$hwm" -v l="$lim" -v r="${reopen:-no parking}" -v r0="$rss0" -v r1="$rss1" \
		'BEGIN { printf "walk %-4s %s %d entries: %.1f s, daemon CPU %s s, VmHWM %d KiB, VmRSS %d -> %d KiB (%.0f bytes per entry), open-file limit %s, %s\n", w, m, n, b - a, c, h, r0, r1, (n > 0) ? (r1 - r0) * 1024 / n : 0, l, r }')
	echo "$line"
	[ -z "$OUTF" ] || echo "$line" >>"$OUTF"
	rm -rf --one-file-system -- "$base"
done
