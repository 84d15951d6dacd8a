# lib.sh - sourced by every scenario of tests/compat (bash).
#
# A scenario is run as  bash SCENARIO.sh WORK OUT  where WORK is the
# directory under test (a scratchfs mount or a plain directory) and OUT a
# plain, empty directory beside it (the "elsewhere" of cp -a out of WORK,
# HOME, scratch files of this library). It prints a transcript to stdout:
# the exit status of every step, and listings of the trees it made. The
# test runs it on a mount and on a plain directory and wants both
# transcripts equal, so nothing in it may depend on where WORK is, on
# inode numbers, on block counts or on "now": paths are printed as <W> and
# <O>, and times only where the scenario set them.
#
# The scenario's exit status is the number of steps that did not end as
# expected (at most 100); on the plain directory it must be 0.
set -u
set -o pipefail

if [ $# -ne 2 ] || [ ! -d "$1" ] || [ ! -d "$2" ]; then
	echo "usage: $0 WORK OUT (two existing directories)" >&2
	exit 100
fi
W=$(cd "$1" && pwd -P)
O=$(cd "$2" && pwd -P)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
T=$O/.compat
mkdir -p "$T" "$O/home"
# Debian's programs, whatever else the caller's PATH has first.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C TZ=UTC HOME=$O/home TMPDIR=$W
unset MAKEFLAGS MFLAGS PYTHONPATH PYTHONHOME VIRTUAL_ENV
# Debian's interpreter, not whatever python3 comes first in PATH.
PY=/usr/bin/python3
# A fixed time for everything a scenario stamps: 2020-09-13 12:26:40 UTC.
STAMP=@1600000000
bad=0

# Replace the work and outside paths in stdin by <W> and <O>.
norm() {
	sed -e "s|$W|<W>|g" -e "s|$O|<O>|g"
}

# With COMPAT_TIMES set, each step's wall time goes to stderr.
timed() {
	[ -n "${COMPAT_TIMES:-}" ] || return 0
	echo "$1: $(echo "$EPOCHREALTIME - $2" | bc) s" >&2
}

# step NAME CMD...: run CMD (output kept aside), print "NAME: rc=N"; its
# output follows only when it failed, so that a failure's message shows in
# the transcript. A step that fails counts as bad.
step() {
	xstep "$1" 0 "${@:2}"
}

# xstep NAME RC CMD...: as step, expecting exit status RC; any other
# status counts as bad, and the output of a non-zero status is printed.
xstep() {
	local name=$1 want=$2 rc=0 t0=$EPOCHREALTIME
	shift 2
	"$@" >"$T/out" 2>&1 </dev/null || rc=$?
	timed "$name" "$t0"
	echo "$name: rc=$rc"
	[ "$rc" -eq 0 ] || norm <"$T/out" | sed -e 's/^/  | /' | head -n 20
	[ "$rc" -eq "$want" ] || bad=$((bad + 1))
	return 0
}

# show NAME CMD...: as step, and print CMD's output (normalised) also when
# it succeeds: for commands whose output is the result.
show() {
	local name=$1 rc=0 t0=$EPOCHREALTIME
	shift
	"$@" >"$T/out" 2>&1 </dev/null || rc=$?
	timed "$name" "$t0"
	echo "$name: rc=$rc"
	norm <"$T/out" | sed -e 's/^/  | /'
	[ "$rc" -eq 0 ] || bad=$((bad + 1))
	return 0
}

# check NAME CMD...: a condition the scenario asserts (test, cmp, grep -q).
check() {
	local name=$1
	shift
	if "$@" >/dev/null 2>&1 </dev/null; then
		echo "check $name: yes"
	else
		echo "check $name: NO"
		bad=$((bad + 1))
	fi
}

# listing [-t] DIR: every entry below DIR (listing.py says what of it).
# With -t also mtimes: only where the scenario made them deterministic
# (after touch -d, cp -a, tar -x, rsync -a ...).
listing() {
	local dir=${*: -1} t0=$EPOCHREALTIME
	echo "listing $dir {" | norm
	"$PY" "$HERE/listing.py" "$@" | norm
	timed "listing $dir" "$t0"
	echo "}"
}

# make_tree DIR: a small tree of everything cp -a, tar, rsync and zip have
# to carry: empty, small, page-sized, multi-block and sparse files, modes
# from 0400 to 0755 and a 0700 directory, another owner, a hard link pair,
# relative, absolute and dangling symlinks, names with spaces and UTF-8,
# user.* attributes on a file and a directory; every time set to STAMP.
make_tree() {
	local d=$1
	mkdir -p "$d/sub/deep" "$d/private" "$d/empty dir"
	: >"$d/empty"
	printf 'hello, scratch\n' >"$d/hello.txt"
	seq 1 1024 | head -c 4096 >"$d/page"
	seq 1 300000 >"$d/sub/numbers"
	seq 1 20000 | gzip -n >"$d/sub/deep/numbers.gz"
	printf 'ünïcödé\n' >"$d/sub/naïve – file.txt"
	truncate -s 3M "$d/sparse"
	printf 'middle' | dd of="$d/sparse" bs=1 seek=1500000 conv=notrunc \
		status=none
	printf '#!/bin/sh\necho run\n' >"$d/sub/script.sh"
	chmod 0755 "$d/sub/script.sh"
	chmod 0400 "$d/page"
	chmod 0640 "$d/hello.txt"
	chmod 0700 "$d/private"
	printf 'secret\n' >"$d/private/key"
	chmod 0600 "$d/private/key"
	chown 1234:5678 "$d/sub/numbers"
	ln "$d/hello.txt" "$d/sub/hardlink"
	ln -s ../hello.txt "$d/sub/rel-link"
	ln -s /etc/hostname "$d/abs-link"
	ln -s does-not-exist "$d/dangling"
	setfattr -n user.origin -v scratch "$d/hello.txt"
	setfattr -n user.bin -v 0x00ff10 "$d/sub/numbers"
	setfattr -n user.dir -v yes "$d/sub"
	find "$d" -exec touch -h -d "$STAMP" {} +
}

# The end of every scenario: its exit status is the count of bad steps.
finish() {
	echo "bad steps: $bad"
	[ "$bad" -gt 100 ] && bad=100
	exit "$bad"
}
