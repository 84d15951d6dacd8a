#!/bin/bash
# run-tests.sh - run every Criterion test binary of a build, then sweep leaks.
#
# usage: tools/run-tests.sh BUILD_DIR        (e.g. build or build/asan)
#
# Runs BUILD_DIR/tests/test_* one after the other (each with --jobs
# ${SFS_TEST_JOBS:-2}: mount tests fork daemons, more jobs only add noise)
# over the FUSE transport SFS_TEST_URING asks for (below),
# prints each binary's synthesis (and its failure output), then looks for
# what this run left behind: mounts under /tmp/sfs-test.*, scratchfs daemons
# from BUILD_DIR and scratch roots. Those are reported, cleaned up, and make
# the run fail. Ends with one line "N passed, N failed".
#
# Only leftovers of *this* run are touched: tests/lib/mount_util.c writes
# $SFS_TEST_RUN_ID into each scratch root, so other people's mounts on a
# shared machine are reported as foreign and left alone.
set -u

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
build=$(cd "$1" && pwd -P)
jobs=${SFS_TEST_JOBS:-2}
# Per-binary wall clock cap; tests carry their own (shorter) timeouts.
bin_timeout=${SFS_TEST_BIN_TIMEOUT:-900}
SFS_TEST_RUN_ID="run-$$-$(date +%s%N)"
export SFS_TEST_RUN_ID

logdir=$(mktemp -d /tmp/sfs-run.XXXXXX) || exit 2

# SFS_TEST_URING=Y or N: run the suite with the kernel's FUSE over io_uring
# switched on or off, so that both transports get every test. It is a fuse
# module parameter, machine-wide: the value found is put back on every exit
# (the end, a failure, an interrupt). Unset: whatever the machine has.
uring_param=/sys/module/fuse/parameters/enable_uring
uring_was=""

# (The linter takes functions called only from traps for unreachable.)
# shellcheck disable=SC2317
finish() {
	if [ -n "$uring_was" ] && ! echo "$uring_was" >"$uring_param"; then
		echo "run-tests.sh: could not put $uring_param back to" \
			"$uring_was" >&2
	fi
	rm -rf "$logdir"
}
trap finish EXIT

if [ -n "${SFS_TEST_URING:-}" ]; then
	if [ -w "$uring_param" ]; then
		uring_was=$(cat "$uring_param")
		echo "$SFS_TEST_URING" >"$uring_param"
	fi
	echo "FUSE over io_uring: $(cat "$uring_param" 2>/dev/null ||
		echo "not in this kernel")"
fi

# Ctrl-C, SIGTERM or SIGHUP stop the test binary running and skip the
# rest; the sweep below still runs. Each binary runs in the background and
# is waited for: bash runs no trap until a foreground command ends, and
# timeout puts the binary in a process group of its own, which a Ctrl-C at
# the terminal never reaches.
running=""
interrupted=0
# shellcheck disable=SC2317
interrupt() {
	trap - INT TERM HUP
	interrupted=1
	echo "run-tests.sh: interrupted; stopping" >&2
	if [ -n "$running" ]; then
		kill -TERM -- "-$running" 2>/dev/null ||
			kill -TERM "$running" 2>/dev/null
	fi
}
trap interrupt INT TERM HUP

# Criterion's runner itself leaks 48 bytes when tests run in parallel (seen
# under ASan); that is not ours. Everything else LeakSanitizer finds fails.
printf 'leak:libcriterion.so\n' >"$logdir/lsan.supp"
export LSAN_OPTIONS="suppressions=$logdir/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

passed=0
failed=0
leaked=0
nbins=0

# Print "tested passing extra" for one Criterion --verbose log: extra counts
# tests that reported [PASS] and then crashed or exited in .fini (Criterion
# still counts those as passing; see tests/lib/mount_util.h).
summarise() {
	awk '
	/^\[(RUN |PASS|FAIL)\] / {
		name = $2; sub(/:$/, "", name)
		state[name] = substr($1, 2, 4)
	}
	/Warning! The test `.*` (crashed|exited) during its setup or teardown/ {
		if (match($0, /`[^`]*`/)) {
			name = substr($0, RSTART + 1, RLENGTH - 2)
			if (state[name] == "PASS")
				extra++
		}
	}
	/Synthesis: Tested:/ {
		for (i = 1; i <= NF; i++) {
			if ($i == "Tested:") tested = $(i + 1)
			if ($i == "Passing:") passing = $(i + 1)
		}
		seen = 1
	}
	END {
		if (!seen) print "-1 -1 0"
		else print tested + 0, passing + 0, extra + 0
	}' "$1"
}

for bin in "$build"/tests/test_*; do
	if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
		continue
	fi
	case "$bin" in *.o | *.d) continue ;; esac
	nbins=$((nbins + 1))
	name=${bin##*/}
	out="$logdir/$name.log"
	# (An asynchronous command would ignore SIGINT: the tests' own
	# children get the default back.)
	(
		trap - INT QUIT
		exec timeout -k 10 "$bin_timeout" "$bin" --verbose \
			--color=never --jobs "$jobs"
	) >"$out" 2>&1 &
	running=$!
	wait "$running"
	rc=$?
	# An interrupt ends the wait early: wait for the binary to go.
	[ "$interrupted" -eq 1 ] && { wait "$running"; rc=$?; }
	running=""
	if [ "$interrupted" -eq 1 ]; then
		echo "$name: interrupted"
		failed=$((failed + 1))
		break
	fi
	read -r tested passing extra < <(summarise "$out")
	if [ "$tested" -lt 0 ]; then
		# No synthesis: the runner itself died (or timed out).
		grep -av -e '^\[RUN \]' -e '^\[PASS\]' "$out" | tail -n 40
		echo "$name: no Criterion synthesis (exit status $rc)"
		failed=$((failed + 1))
		continue
	fi
	bad=$((tested - passing + extra))
	if [ "$bad" -eq 0 ] && [ "$rc" -ne 0 ]; then
		# Warnings or a runner error with every test passing.
		bad=1
	fi
	if [ "$bad" -ne 0 ]; then
		grep -av -e '^\[RUN \]' -e '^\[PASS\]' "$out"
	fi
	ok=$((tested - bad < 0 ? 0 : tested - bad))
	msg="$name: $ok passed, $bad failed (of $tested)"
	[ "$extra" -gt 0 ] && msg+=", $extra of them in teardown"
	[ "$rc" -ne 0 ] && msg+=", exit status $rc"
	echo "$msg"
	passed=$((passed + ok))
	failed=$((failed + bad))
done

if [ "$nbins" -eq 0 ]; then
	echo "no test binaries in $build/tests" >&2
	failed=$((failed + 1))
fi

# ---- sweep -----------------------------------------------------------------

# True when scratch root $1 was made by this run.
ours() {
	[ -f "$1/run-id" ] && [ "$(cat "$1/run-id" 2>/dev/null)" = "$SFS_TEST_RUN_ID" ]
}

# Mount points under /tmp/sfs-test.*, one a line (octal escapes decoded).
sfs_mounts() {
	awk '$2 ~ /^\/tmp\/sfs-test\./ { print $2 }' /proc/self/mounts |
		while IFS= read -r mp; do printf '%b\n' "$mp"; done
}

# "pid root" for every live scratchfs started from $build whose arguments
# name a scratch root.
sfs_daemons() {
	local p exe root
	for p in /proc/[0-9]*; do
		exe=$(readlink "$p/exe" 2>/dev/null) || continue
		exe=${exe% (deleted)}
		[ "$exe" = "$build/scratchfs" ] || continue
		root=$(tr '\0' '\n' <"$p/cmdline" 2>/dev/null |
			grep -ao '^/tmp/sfs-test\.[A-Za-z0-9]\{6\}' | head -n 1)
		echo "${p#/proc/} ${root:-?}"
	done
}

# Daemons of crashed tests get SIGTERM from the kernel and unmount
# themselves; give them a moment before calling them leaks.
for _ in $(seq 30); do
	pending=0
	while IFS= read -r mp; do
		[ -n "$mp" ] && ours "${mp%/*}" && pending=1
	done < <(sfs_mounts)
	while read -r pid root; do
		[ -n "$pid" ] && ours "$root" && pending=1
	done < <(sfs_daemons)
	[ "$pending" -eq 0 ] && break
	sleep 0.1
done

while IFS= read -r mp; do
	[ -n "$mp" ] || continue
	root=${mp%/*}
	if ! ours "$root"; then
		echo "note: mount $mp is not from this run; left alone"
		continue
	fi
	echo "LEAK: mount $mp still present after the tests"
	leaked=1
	fusermount3 -u "$mp" 2>/dev/null || umount -l "$mp" ||
		echo "LEAK: could not unmount $mp"
done < <(sfs_mounts)

while read -r pid root; do
	[ -n "$pid" ] || continue
	if [ "$root" = "?" ] || ! ours "$root"; then
		echo "note: scratchfs pid $pid (root $root) is not from this run; left alone"
		continue
	fi
	echo "LEAK: scratchfs daemon pid $pid ($root) still running"
	leaked=1
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 20); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	if [ -d "$root/mnt" ] && mountpoint -q "$root/mnt"; then
		umount -l "$root/mnt"
	fi
done < <(sfs_daemons)

for root in /tmp/sfs-test.??????; do
	if [ ! -d "$root" ] || ! ours "$root"; then
		continue
	fi
	if mountpoint -q "$root/mnt" 2>/dev/null; then
		echo "LEAK: $root/mnt still mounted; not removing $root"
		leaked=1
		continue
	fi
	echo "LEAK: scratch root $root left behind (crashed test?); removing"
	leaked=1
	rm -rf --one-file-system -- "$root"
done

echo "$passed passed, $failed failed"
[ "$interrupted" -eq 1 ] && exit 130
if [ "$failed" -ne 0 ] || [ "$leaked" -ne 0 ]; then
	[ "$leaked" -ne 0 ] && echo "FAIL: the tests leaked mounts, daemons or scratch roots"
	exit 1
fi
exit 0
