#!/bin/bash
# bench.sh - `make bench`: scratchfs hbi=1 against the plain disk, libfuse's
# low-level passthrough (passthrough_ll, the FUSE ceiling) and gocryptfs on
# the same disk, same workloads, rotated order; prints tables and verdicts.
#
# Usage (as root, needs /dev/fuse):
#   bench/bench.sh [BUILD]            full run (5 repetitions)
#   BENCH_QUICK=1 bench/bench.sh      smoke test (small sizes, 1 repetition)
#   BENCH_PROFILE=1 bench/bench.sh    instead: perf profiles of scratchfs hbi=1, and
#                                     the FUSE requests of each workload per target
#   bench/bench.sh --summary DIR      reprint the tables of a saved run
# Environment:
#   BENCH_REPS=N          repetitions (default 5; quick: 1)
#   BENCH_TARGETS="..."   subset of: native ptll ptllx gocryptfs hbi1 hbi1uring
#                         hbi0 (default all but hbi0). ptll:
#                         passthrough_ll built from libfuse3-dev's examples
#                         into BUILD/bench; ptllx: the same with -o xattr
#                         (the kernel then asks it the xattr questions it
#                         asks scratchfs);
#                         hbi1: scratchfs hbi=1, built-in defaults but
#                         fuse.io_uring = false (/dev/fuse); hbi1uring: built-in
#                         defaults, over FUSE over io_uring
#   The kernel's FUSE over io_uring (fuse module parameter enable_uring) is
#   off (N) for the run and on (Y) only while an hbi1uring session is
#   mounted; the old value is put back on exit.
#   BENCH_DIR=DIR         where the scratch dir is made (default /var/tmp); all
#                         backing dirs live in one mkdtemp dir there, so every
#                         target sits on the same filesystem
#   BENCH_RESULTS=DIR     where runs are saved (default bench/results)
#   BENCH_NO_WIPE=1       skip the wipe timing rows (the copy-in RSS row stays)
#   BENCH_NO_WALK=1       skip the 300k-file walks (bench/walk.sh)
#   BENCH_WALK_RUNS="..." which walks (default: root:hbi1 root:hbi0 user:hbi0)
#   BENCH_QUIET_WAIT=S    before each mount session wait up to S seconds
#                         (default 30) for the machine to be <= 25% busy
# Results: BENCH_RESULTS/<timestamp>/ holds raw.csv (one line per
# measurement), wipe.csv, sessions.csv (start time and load average of each
# mount session), meta.txt, table.md, workload outputs and daemon logs;
# BENCH_RESULTS/latest points at the newest run.
#
# The script only creates, mounts and deletes things inside its own two
# mkdtemp directories (one under BENCH_DIR for the backing dirs, one in
# /dev/shm for the source data) and removes both on exit, also on Ctrl-C.

# The whole script is one { } block, read completely before it starts, so
# editing this file while a bench runs cannot derail that run.
# (The linter takes functions called through variables and traps for
# unreachable code.)
# shellcheck disable=SC2317
{
set -Eeu -o pipefail
trap 'echo "bench: line $LINENO: \"$BASH_COMMAND\" failed" >&2' ERR
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

TARGETS_ALL="native ptll ptllx gocryptfs hbi1 hbi1uring hbi0"
TARGETS_DEFAULT="native ptll ptllx gocryptfs hbi1 hbi1uring"
WORKLOADS="seqwrite seqread randread randread0 randwrite untar lsR stat rmrf creates"

die() {
	echo "bench: $*" >&2
	exit 1
}
note() { echo "bench: $*" >&2; }

# ---------------------------------------------------------------- summary --

# summarize RUNDIR: the tables (markdown) from RUNDIR/raw.csv and wipe.csv.
summarize() {
	local dir=$1
	[ -f "$dir/raw.csv" ] || die "$dir/raw.csv: no such file"
	awk -F, -v wipefile="$dir/wipe.csv" -v workloads="$WORKLOADS" -v targets="$TARGETS_ALL" '
	function fmt(v, u) {
		if (v == "") return "-"
		if (u == "s") return sprintf("%.2f", v)
		if (v >= 100) return sprintf("%.0f", v)
		return sprintf("%.1f", v)
	}
	function sortn(a, n,    i, j, t) {
		for (i = 2; i <= n; i++) {
			t = a[i]
			for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]
			a[j + 1] = t
		}
	}
	# median, min, max of the values stored under key k
	function stats(k,    n, i, a) {
		n = cnt[k]
		if (n == 0) { MED = ""; MIN = ""; MAX = ""; return 0 }
		for (i = 1; i <= n; i++) a[i] = val[k, i]
		sortn(a, n)
		MIN = a[1]; MAX = a[n]
		MED = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		return n
	}
	# Speed of target a relative to b for workload w (>1: a is faster):
	# returns the ratio of the medians and sets LO and HI to the smallest
	# and largest ratio within one repetition (the spread), NR_ to their
	# number.
	function ratio(w, a, b,    ma, mb, r, x, y, q) {
		LO = ""; HI = ""; NR_ = 0
		stats(w SUBSEP a); ma = MED
		stats(w SUBSEP b); mb = MED
		if (ma == "" || mb == "" || ma == 0 || mb == 0) return ""
		for (r in reps) {
			if (!((w, a, r) in vr) || !((w, b, r) in vr)) continue
			x = vr[w, a, r]; y = vr[w, b, r]
			if (x == 0 || y == 0) continue
			q = higher[w] ? x / y : y / x
			if (NR_++ == 0 || q < LO) LO = q
			if (NR_ == 1 || q > HI) HI = q
		}
		r = higher[w] ? ma / mb : mb / ma
		if (NR_ == 0) { LO = r; HI = r }	# no repetition holds both
		return r
	}
	# "1.23x (1.10-1.31)", with " ~" when the per-repetition range spans
	# 1.0: no difference beyond the noise.
	function rcell(w, a, b,    r) {
		r = ratio(w, a, b)
		if (r == "") return "-"
		if (NR_ < 2) return sprintf("%.2fx", r)
		return sprintf("%.2fx (%.2f-%.2f)%s", r, LO, HI, (LO < 1 && HI > 1) ? " ~" : "")
	}
	# met: every repetition reached the goal; NOT MET: none did; within
	# noise: the goal lies inside the spread of the repetitions.
	function verdict(w, a, b, goal,    r) {
		r = ratio(w, a, b)
		if (r == "") return "n/a"
		if (LO >= goal) return "met"
		if (HI < goal) return "**NOT MET**"
		return "within noise"
	}
	BEGIN {
		nw = split(workloads, W, " ")
		nt = split(targets, T, " ")
		tname["native"] = "native"; tname["ptll"] = "passthrough_ll"
		tname["ptllx"] = "passthrough_ll -o xattr"
		tname["gocryptfs"] = "gocryptfs"
		tname["hbi1"] = "scratchfs hbi=1 /dev/fuse"
		tname["hbi1uring"] = "scratchfs hbi=1 io_uring"
		tname["hbi0"] = "scratchfs hbi=0 /dev/fuse"
		for (i = 1; i <= nw; i++) higher[W[i]] = 0
		higher["seqwrite"] = higher["seqread"] = 1
		higher["randread"] = higher["randread0"] = higher["randwrite"] = 1
		# The targets of issue 22: against passthrough_ll (gp) and
		# gocryptfs (gg).
		gp["seqwrite"] = gp["seqread"] = 0.9; gg["seqwrite"] = gg["seqread"] = 2
		gp["randread"] = gp["randread0"] = 1; gg["randread"] = gg["randread0"] = 1
		gg["randwrite"] = 5
		split("untar lsR stat rmrf creates", M, " ")
		for (i in M) { gp[M[i]] = 1; gg[M[i]] = 1.5 }
		# The metadata rows also against the ceiling that answers the
		# xattr questions of the kernel as scratchfs must (ptllx).
		for (i in M) gx[M[i]] = 1
	}
	NR == 1 { next }	# header
	{
		# run,rep,order,target,workload,status,seconds,bytes,ops,value,
		# unit,cpu_s,hwm_kib
		t = $4; w = $5
		seen[t] = 1
		if ($13 != "" && $13 + 0 > hwm[t]) hwm[t] = $13 + 0
		if ($6 != "ok") { fails[t] = fails[t] " " w " (rep " $2 ": " $6 ")"; next }
		unit[w] = $11
		k = w SUBSEP t
		val[k, ++cnt[k]] = $10 + 0
		vr[w, t, $2] = $10 + 0
		if ($12 != "" && $8 > 0) {
			kc = w SUBSEP t SUBSEP "cpu"
			val[kc, ++cnt[kc]] = $12 / ($8 / 1073741824)
		}
		if (w == "untar" || w == "lsR" || w == "stat" || w == "rmrf" || w == "creates") files[w] = $9
		if (w == "seqwrite") seqmb = $8 / 1048576
		if (w == "randread") rrmb = $14 + 0
		if (w == "copyin") { copy_hwm = $13 + 0; copy_mib = $8 / 1048576; copy_rate = $10 }
		if (w != "copyin") reps[$2] = 1
	}
	END {
		# Only the targets that ran get a column.
		n = 0
		for (j = 1; j <= nt; j++) if (T[j] in seen) T[++n] = T[j]
		nt = n
		desc["seqwrite"] = sprintf("seq write %d MiB, dd bs=1M conv=fsync (MiB/s)", seqmb)
		desc["seqread"] = sprintf("seq read %d MiB cold, dd bs=1M (MiB/s)", seqmb)
		desc["randread"] = sprintf("4 KiB rand read cold, QD1, %s MiB file, fadvise_hint=1 (IOPS)", rrmb ? rrmb : "?")
		desc["randread0"] = sprintf("4 KiB rand read cold, QD1, %s MiB file, fadvise_hint=0 (IOPS)", rrmb ? rrmb : "?")
		desc["randwrite"] = "4 KiB rand write + end fsync (IOPS)"
		desc["untar"] = sprintf("untar %d entries (s)", files["untar"])
		desc["lsR"] = "ls -lR cold (s)"
		desc["stat"] = "find \\| xargs stat cold (s)"
		desc["rmrf"] = "rm -rf cold (s)"
		desc["creates"] = sprintf("%d x 4 KiB creates (s)", files["creates"])
		nrep = 0; for (r in reps) nrep++

		printf "### Medians (min-max) over %d repetition(s)\n\n", nrep
		printf "| workload |"
		for (j = 1; j <= nt; j++) printf " %s |", tname[T[j]]
		printf "\n|---|"
		for (j = 1; j <= nt; j++) printf "---:|"
		printf "\n"
		for (i = 1; i <= nw; i++) {
			w = W[i]
			printf "| %s |", desc[w]
			for (j = 1; j <= nt; j++) {
				if (stats(w SUBSEP T[j]) == 0) { printf " - |"; continue }
				if (cnt[w SUBSEP T[j]] > 1)
					printf " %s (%s-%s) |", fmt(MED, unit[w]), fmt(MIN, unit[w]), fmt(MAX, unit[w])
				else
					printf " %s |", fmt(MED, unit[w])
			}
			printf "\n"
		}

		# Ratio columns: each scratchfs target against passthrough_ll
		# and gocryptfs, the peers against native, io_uring against
		# /dev/fuse.
		nc = 0
		for (j = 1; j <= nt; j++) if (T[j] ~ /^hbi/) {
			if ("ptll" in seen) { CA[++nc] = T[j]; CB[nc] = "ptll" }
			if ("ptllx" in seen) { CA[++nc] = T[j]; CB[nc] = "ptllx" }
			if ("gocryptfs" in seen) { CA[++nc] = T[j]; CB[nc] = "gocryptfs" }
		}
		if (("hbi1uring" in seen) && ("hbi1" in seen)) { CA[++nc] = "hbi1uring"; CB[nc] = "hbi1" }
		if ("native" in seen) for (j = 1; j <= nt; j++) if (T[j] ~ /^ptll/ || T[j] == "gocryptfs") {
			CA[++nc] = T[j]; CB[nc] = "native"
		}
		printf "\n### Speed ratios (>1 = faster)\n\n"
		printf "Ratio of the medians, then the smallest and largest ratio within one\n"
		printf "repetition; `~`: that range spans 1.0, no difference beyond the noise.\n\n"
		printf "| workload |"
		for (c = 1; c <= nc; c++) printf " %s / %s |", tname[CA[c]], tname[CB[c]]
		printf "\n|---|"
		for (c = 1; c <= nc; c++) printf "---:|"
		printf "\n"
		for (i = 1; i <= nw; i++) {
			w = W[i]
			printf "| %s |", w
			for (c = 1; c <= nc; c++) printf " %s |", rcell(w, CA[c], CB[c])
			printf "\n"
		}

		printf "\n### Targets (issue 22): scratchfs hbi=1 on /dev/fuse\n\n"
		printf "met: every repetition reached the goal; NOT MET: none did; within\n"
		printf "noise: the goal lies inside the per-repetition range.\n\n"
		ux = ("hbi1uring" in seen)
		printf "| target | goal | hbi=1 /dev/fuse | verdict |%s\n", ux ? " hbi=1 io_uring | verdict |" : ""
		printf "|---|---:|---:|---|%s\n", ux ? "---:|---|" : ""
		for (i = 1; i <= nw; i++) {
			w = W[i]
			for (p = 1; p <= 3; p++) {
				b = (p == 1) ? "ptll" : (p == 2) ? "gocryptfs" : "ptllx"
				g = (p == 1) ? gp[w] : (p == 2) ? gg[w] : gx[w]
				if (g == "" || !(b in seen)) continue
				printf "| %s vs %s | >= %gx | %s | %s |", w, tname[b], g,
				    rcell(w, "hbi1", b), verdict(w, "hbi1", b, g)
				if (ux) printf " %s | %s |", rcell(w, "hbi1uring", b), verdict(w, "hbi1uring", b, g)
				printf "\n"
			}
		}
		if (copy_hwm)
			printf "| %d MiB copy-in, hbi=1 daemon VmHWM | < 64 MiB | %.1f MiB | %s |%s\n",
			    copy_mib, copy_hwm / 1024, (copy_hwm < 65536) ? "met (1 run)" : "**NOT MET** (1 run)",
			    ux ? " | |" : ""

		printf "\n### FUSE daemons: peak RSS and CPU\n\n"
		printf "| target | peak RSS (VmHWM, max) | CPU s/GiB seq write | CPU s/GiB seq read |\n|---|---:|---:|---:|\n"
		for (j = 1; j <= nt; j++) {
			t = T[j]
			if (!(t in hwm)) continue
			stats("seqwrite" SUBSEP t SUBSEP "cpu"); cw = MED
			stats("seqread" SUBSEP t SUBSEP "cpu"); cr = MED
			printf "| %s | %.1f MiB | %s | %s |\n", tname[t], hwm[t] / 1024,
			    (cw == "") ? "-" : sprintf("%.2f", cw), (cr == "") ? "-" : sprintf("%.2f", cr)
		}
		if (copy_hwm)
			printf "\n%d MiB copy-in (cp) into scratchfs hbi=1 over /dev/fuse: %.0f MiB/s, daemon VmHWM %.1f MiB.\n",
			    copy_mib, copy_rate, copy_hwm / 1024

		nf = 0
		for (t in fails) { if (!nf++) printf "\n### Failed measurements\n\n"; printf "- %s:%s\n", tname[t], fails[t] }

		# wipe.csv: run,size_mib,status,erase_ms,delete_ms,unmount_ms,
		# total_ms,wall_s,files_deleted,method,verified
		nwr = 0
		while ((getline line < wipefile) > 0) {
			split(line, f, ",")
			if (f[1] == "run") continue
			if (!nwr++) {
				printf "\n### Wipe (scratchfs-wipe --json, hbi=1 volumes, 1 run each)\n\n"
				printf "| data | erase ms | delete ms | unmount ms | total ms | wall s | files | method | verified | erase < 50 ms |\n"
				printf "|---:|---:|---:|---:|---:|---:|---:|---|---|---|\n"
			}
			if (f[3] != "ok") { printf "| %d MiB | failed: %s | | | | | | | | no |\n", f[2], f[3]; continue }
			printf "| %d MiB | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", f[2], f[4], f[5], f[6],
			    f[7], f[8], f[9], f[10], f[11], (f[4] != "" && f[4] + 0 < 50) ? "yes" : "no"
		}
	}' "$dir/raw.csv"
}

if [ "${1:-}" = "--summary" ]; then
	[ $# -eq 2 ] || die "usage: $0 --summary RUNDIR"
	summarize "$2"
	exit 0
fi

# ------------------------------------------------------------------ setup --

BUILD=${1:-build}
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || die "${1:-build}: no build directory (run make first)"
SFS=$BUILD/scratchfs
WIPE=$BUILD/scratchfs-wipe
[ -x "$SFS" ] || die "$SFS: not built (run make first)"
[ "$(id -u)" = 0 ] || die "must run as root (mounts, drop_caches)"
[ -c /dev/fuse ] || die "/dev/fuse missing"
[ -w /proc/sys/vm/drop_caches ] || die "/proc/sys/vm/drop_caches not writable: cold-cache runs impossible"

QUICK=${BENCH_QUICK:-0}
PROFILE=${BENCH_PROFILE:-0}
if [ "$QUICK" = 1 ]; then
	REPS=${BENCH_REPS:-1}
	SEQ_MB=128		# sequential file size
	RR_MB=32 RR_T=5		# fio rand read: file size, seconds cap
	RW_IO=16 RW_T=5		# fio rand write: MiB cap, seconds cap
	TREE_SRC="usr/include/linux"
	NCREATE=1000
	COPY_MB=256
	WIPE_SIZES="64 128 256"
else
	REPS=${BENCH_REPS:-5}
	SEQ_MB=1024
	RR_MB=256 RR_T=12
	RW_IO=256 RW_T=15
	TREE_SRC="usr/include usr/share/perl"
	NCREATE=10000
	COPY_MB=2048
	WIPE_SIZES="256 2048 8192"
fi
TARGETS=${BENCH_TARGETS:-$TARGETS_DEFAULT}
for t in $TARGETS; do
	case " $TARGETS_ALL " in *" $t "*) ;; *) die "unknown target '$t' (known: $TARGETS_ALL)" ;; esac
done
case "$REPS" in '' | *[!0-9]* | 0) die "BENCH_REPS must be a positive integer" ;; esac

# Tools: gocryptfs and fio from Debian; perf only for profiles;
# passthrough_ll's source from libfuse3-dev, and a compiler for it.
PTLL_DOC=/usr/share/doc/libfuse3-dev/examples
need=""
command -v fio >/dev/null || need="$need fio"
case " $TARGETS " in *" ptll "* | *" ptllx "*)
	[ -e "$PTLL_DOC/passthrough_ll.c" ] || [ -e "$PTLL_DOC/passthrough_ll.c.gz" ] ||
		need="$need libfuse3-dev"
	command -v cc >/dev/null || need="$need gcc"
	command -v pkg-config >/dev/null || need="$need pkg-config"
	;;
esac
case " $TARGETS " in *" gocryptfs "*) command -v gocryptfs >/dev/null || need="$need gocryptfs" ;; esac
[ "$PROFILE" = 1 ] && ! command -v perf >/dev/null && need="$need linux-perf"
command -v fincore >/dev/null || need="$need util-linux"
if [ -n "$need" ]; then
	note "installing:$need"
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086
	apt-get install -y -q $need >/dev/null ||
		{ apt-get update -q >/dev/null && apt-get install -y -q $need >/dev/null; } ||
		die "apt-get install$need failed"
fi

# passthrough_ll, libfuse's low-level passthrough example, as the FUSE
# ceiling: built from the installed libfuse's own example source into
# BUILD/bench (Debian may ship the files gzipped). It runs with its
# multithreaded loop (fuse_session_loop_mt, the default without -s) and
# the writeback cache (-o writeback), and its mount's readahead raised to
# scratchfs's (PTLL_RA_KB); both are recorded in meta.txt.
PTLL=$BUILD/bench/passthrough_ll
PTLL_OPTS="writeback"
PTLL_RA_KB=4096	# its mount's read_ahead_kb: what scratchfs sets for its own
build_ptll() {
	local d=$BUILD/bench/ptll-src f
	mkdir -p "$d"
	for f in passthrough_ll.c passthrough_helpers.h; do
		if [ -e "$PTLL_DOC/$f" ]; then
			cp "$PTLL_DOC/$f" "$d/$f"
		elif [ -e "$PTLL_DOC/$f.gz" ]; then
			gzip -dc "$PTLL_DOC/$f.gz" >"$d/$f"
		else
			die "$PTLL_DOC/$f: missing (libfuse3-dev's examples)"
		fi
	done
	# shellcheck disable=SC2046 # pkg-config's flags are words
	cc -O2 -Wall -o "$PTLL.tmp" "$d/passthrough_ll.c" $(pkg-config fuse3 --cflags --libs) ||
		die "could not build passthrough_ll from $PTLL_DOC"
	mv "$PTLL.tmp" "$PTLL"
}
case " $TARGETS " in *" ptll "* | *" ptllx "*) build_ptll ;; esac

PARENT=${BENCH_DIR:-/var/tmp}
[ -d "$PARENT" ] || die "$PARENT: not a directory"
WORK=""
SHM=""
MOUNTS=""	# mount points we mounted and have not unmounted yet
PIDS=""		# daemons we started and have not reaped yet
BGPIDS=""	# other background helpers (perf)
WLPID=""	# the running workload subshell

# Unmount everything we mounted, stop what we started, remove our two temp
# dirs. Runs on every exit, including Ctrl-C and errors.
cleanup() {
	local m p left i
	trap - EXIT INT TERM HUP ERR
	set +e
	if [ -n "$WLPID" ]; then
		pkill -TERM -P "$WLPID" 2>/dev/null
		kill -TERM "$WLPID" 2>/dev/null
		wait "$WLPID" 2>/dev/null
	fi
	for p in $BGPIDS; do kill -INT "$p" 2>/dev/null; done
	for m in $MOUNTS; do
		mountpoint -q "$m" 2>/dev/null || continue
		fusermount3 -u "$m" 2>/dev/null || umount "$m" 2>/dev/null ||
			umount -l "$m" 2>/dev/null
	done
	for p in $PIDS; do
		for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$p" 2>/dev/null && { note "daemon $p still alive: killing it"; kill -KILL "$p"; }
		wait "$p" 2>/dev/null
	done
	for p in $BGPIDS; do wait "$p" 2>/dev/null; done
	[ -n "$URING_WAS" ] && echo "$URING_WAS" >"$URING_PARAM"
	for d in "$WORK" "$SHM"; do
		if [ -z "$d" ] || [ ! -d "$d" ]; then continue; fi
		# Never delete through a mount that is still there.
		left=$(awk -v d="$d/" 'index($2 "/", d) == 1 { print $2 }' /proc/self/mounts)
		if [ -n "$left" ]; then
			note "still mounted, not removing $d: $left"
			continue
		fi
		rm -rf --one-file-system -- "$d"
	done
}
# FUSE over io_uring is a kernel switch (off by default, and absent before
# 6.14). The run keeps it off, the transport most nodes have, and turns it
# on only while an hbi1uring session is mounted (the kernel also checks it
# on every ring command). cleanup() puts the old value back.
URING_PARAM=/sys/module/fuse/parameters/enable_uring
URING_WAS=""
URING_NOTE="not in this kernel"
uring_set() { [ -z "$URING_WAS" ] || echo "$1" >"$URING_PARAM"; }
trap cleanup EXIT
trap 'note "interrupted"; exit 130' INT TERM HUP
if [ -w "$URING_PARAM" ]; then
	URING_WAS=$(cat "$URING_PARAM")
	uring_set N
	URING_NOTE="N for the run, Y during the hbi1uring sessions (was $URING_WAS)"
else
	case " $TARGETS " in *" hbi1uring "*)
		note "no FUSE over io_uring in this kernel: no hbi1uring target"
		TARGETS=$(echo " $TARGETS " | sed 's/ hbi1uring / /; s/^ *//; s/ *$//')
		;;
	esac
fi

WORK=$(mktemp -d "$PARENT/sfs-bench.XXXXXX")
SHM=$(mktemp -d /dev/shm/sfs-bench.XXXXXX)

stamp=$(date +%Y%m%d-%H%M%S)
[ "$QUICK" = 1 ] && stamp="$stamp-quick"
[ "$PROFILE" = 1 ] && stamp="$stamp-profile"
RESULTS=${BENCH_RESULTS:-$here/results}
OUT=$RESULTS/$stamp
mkdir -p "$OUT"
ln -sfn "$stamp" "$RESULTS/latest"
CSV=$OUT/raw.csv
WCSV=$OUT/wipe.csv
echo "run,rep,order,target,workload,status,seconds,bytes,ops,value,unit,cpu_s,hwm_kib,file_mib" >"$CSV"
echo "run,size_mib,status,erase_ms,delete_ms,unmount_ms,total_ms,wall_s,files_deleted,method,verified" >"$WCSV"

echo "rep,order,target,start,load1,other_busy_pct,waited_s,transport" >"$OUT/sessions.csv"
CONF=$WORK/empty.conf	# built-in scratchfs defaults, whatever /etc says
: >"$CONF"
# The same over /dev/fuse even when someone else turns enable_uring on
# meanwhile (the test suites of this machine do).
CONF_DEV=$WORK/devfuse.conf
echo "fuse = { io_uring = false; };" >"$CONF_DEV"
PASSFILE=$WORK/gocryptfs.pass
head -c 24 /dev/urandom | base64 >"$PASSFILE"
chmod 600 "$PASSFILE"
TCK=$(getconf CLK_TCK)

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# The daemon's user+system CPU in seconds (all threads), "" for native.
cpu_of() {
	[ -n "$1" ] || { echo ""; return; }
	sed 's/.*) //' "/proc/$1/stat" | awk -v tck="$TCK" '{ printf "%.2f", ($12 + $13) / tck }'
}
hwm_of() {
	[ -n "$1" ] || { echo ""; return; }
	awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}

# CPU busy % of the whole machine over one second (iowait counts as busy).
busy_pct() {
	local a b
	a=$(head -1 /proc/stat)
	sleep 1
	b=$(head -1 /proc/stat)
	echo "$a $b" | awk '{
		for (i = 2; i <= 11; i++) { x[i] = $i; y[i] = $(i + 11) }
		tot = 0; for (i = 2; i <= 11; i++) tot += y[i] - x[i]
		idle = (y[5] - x[5])
		v = (tot > 0) ? 100 * (tot - idle) / tot : 0; printf "%.0f", v }'
}

# Other people's work on this machine (builds, test suites) is the main
# noise: before each session wait, at most BENCH_QUIET_WAIT seconds (default
# 30), for a second in which the machine is at most 25% busy. Sets BUSY and
# WAITED for sessions.csv.
wait_quiet() {
	local max=${BENCH_QUIET_WAIT:-30}
	WAITED=0
	BUSY=$(busy_pct)
	while [ "$BUSY" -gt 25 ] && [ "$WAITED" -lt "$max" ]; do
		sleep 1
		WAITED=$((WAITED + 2))
		BUSY=$(busy_pct)
	done
	[ "$BUSY" -le 25 ] || note "machine still ${BUSY}% busy after ${WAITED} s: measuring anyway"
}
BUSY=0
WAITED=0

# --------------------------------------------------------- mount/unmount --

DPID=""
COLD_OK=0	# sessions where drop_caches emptied the FUSE page cache
COLD_BAD=0

# mount_target T BACKING MNT LOG: mount T (nothing for native), set DPID.
mount_target() {
	local t=$1 bk=$2 mnt=$3 log=$4 i
	DPID=""
	case $t in
	native) return 0 ;;
	hbi1 | hbi0)
		"$SFS" -f -c "$CONF_DEV" -o "hbi=${t#hbi}" "$bk" "$mnt" >>"$log" 2>&1 &
		;;
	hbi1uring)
		"$SFS" -f -c "$CONF" -o hbi=1 "$bk" "$mnt" >>"$log" 2>&1 &
		;;
	ptll)
		"$PTLL" -f -o "source=$bk,$PTLL_OPTS" "$mnt" >>"$log" 2>&1 &
		;;
	ptllx)
		"$PTLL" -f -o "source=$bk,$PTLL_OPTS,xattr" "$mnt" >>"$log" 2>&1 &
		;;
	gocryptfs)
		gocryptfs -init -q -passfile "$PASSFILE" "$bk" >>"$log" 2>&1 ||
			{ cat "$log" >&2; die "gocryptfs -init $bk failed"; }
		gocryptfs -fg -q -passfile "$PASSFILE" "$bk" "$mnt" >>"$log" 2>&1 &
		;;
	esac
	DPID=$!
	PIDS="$PIDS $DPID"
	MOUNTS="$MOUNTS $mnt"
	for i in $(seq 200); do
		if mountpoint -q "$mnt"; then
			# The ceiling reads ahead as far as scratchfs does: it
			# sets its own mount's read_ahead_kb (SFS_READ_AHEAD_KB).
			case $t in ptll*)
				echo "$PTLL_RA_KB" >"/sys/class/bdi/$(mountpoint -d "$mnt")/read_ahead_kb" ;;
			esac
			return 0
		fi
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$log" >&2
	die "$t did not mount $mnt"
}

# unmount_target MNT: unmount and reap DPID (no-op for native).
unmount_target() {
	local mnt=$1 i rc=0
	[ -n "$DPID" ] || return 0
	fusermount3 -u "$mnt" 2>/dev/null || umount "$mnt"
	for i in $(seq 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$DPID" 2>/dev/null && { note "daemon $DPID did not exit: killing it"; kill -KILL "$DPID"; }
	wait "$DPID" || rc=$?
	[ $rc -eq 0 ] || note "daemon $DPID exited with status $rc"
	PIDS=$(echo "$PIDS" | tr ' ' '\n' | grep -vx "$DPID" | tr '\n' ' ' || true)
	MOUNTS=$(echo "$MOUNTS" | tr ' ' '\n' | grep -vx "$mnt" | tr '\n' ' ' || true)
	DPID=""
}

# ---------------------------------------------------------- the workloads --
# Each runs in a subshell with set -e; $1 = directory to work in (the mount
# point, or the plain directory), $2 = its backing directory.
# Metadata-heavy writes (untar, rm, creates) end when everything has reached
# the backing filesystem: on a FUSE mount, syncfs flushes the kernel's
# writeback cache to the daemon, which writes it to the backing files; for
# native the data is there already. None of them waits for the disk itself:
# syncfs of the backing filesystem would also wait for whatever else the
# machine writes to that disk, and only adds the same disk time to every
# target. (dd and fio end with fsync, as the issue asks.)

flush_mount() {
	[ "$1" = "$2" ] || sync -f "$1"
}

wl_seqwrite() { dd if="$SHM/src.bin" of="$1/seq.bin" bs=1M count="$SEQ_MB" conv=fsync status=none; }
wl_seqread() { dd if="$1/seq.bin" of=/dev/null bs=1M status=none; }
fio_common() {
	fio --name=bench --bs=4k --ioengine=psync --iodepth=1 --invalidate=0 \
		--randrepeat=1 "$@"
}
# Cold 4 KiB random reads, one at a time, over the whole RR_MB file (each
# block once, or until RR_T seconds): with fio's default fadvise_hint=1
# (POSIX_FADV_RANDOM: no readahead) and with fadvise_hint=0.
wl_randread() {
	fio_common --filename="$1/rr.bin" --size="${RR_MB}M" --rw=randread \
		--runtime="$RR_T" --fadvise_hint=1
}
wl_randread0() {
	fio_common --filename="$1/rr.bin" --size="${RR_MB}M" --rw=randread \
		--runtime="$RR_T" --fadvise_hint=0
}
wl_randwrite() {
	fio_common --filename="$1/seq.bin" --size="${SEQ_MB}M" --rw=randwrite \
		--io_size="${RW_IO}M" --runtime="$RW_T" --end_fsync=1
}
wl_untar() {
	tar -xf "$SHM/tree.tar" -C "$1/tree"
	flush_mount "$1" "$2"
}
wl_lsR() { ls -lR "$1/tree" >/dev/null; }
wl_stat() { find "$1/tree" -print0 | xargs -0 stat -c '%i %s %Y' >/dev/null; }
wl_rmrf() {
	rm -rf "$1/tree"
	flush_mount "$1" "$2"
}
wl_creates() {
	perl -e 'my ($d, $n) = @ARGV; my $b = "x" x 4096;
		for my $i (1 .. $n) {
			open(my $f, ">", "$d/f$i") or die "$d/f$i: $!";
			print $f $b or die; close($f) or die "$d/f$i: $!";
		}' "$1/small" "$NCREATE"
	flush_mount "$1" "$2"
}

# run_workload W DIR BACKING LOG: wl_W in a background subshell, waited
# for. A Ctrl-C then interrupts the wait at once and runs our trap whatever
# the workload's programs do with SIGINT (fio catches it and exits
# normally, and bash skips the INT trap after such a foreground command).
run_workload() {
	local rc=0
	(set -e; "wl_$1" "$2" "$3") >"$4" 2>&1 &
	WLPID=$!
	wait "$WLPID" || rc=$?
	WLPID=""
	return $rc
}

# Untimed preparation before each workload.
prep() {
	local w=$1 d=$2
	# The random reads' file, written once per session.
	if [ "$w" = randread ] || [ "$w" = randread0 ]; then
		[ -e "$d/rr.bin" ] || dd if="$SHM/src.bin" of="$d/rr.bin" bs=1M \
			count="$RR_MB" conv=fsync status=none
	fi
	case $w in
	seqwrite | untar | creates) sync ;;
	seqread | randread | randread0 | randwrite | lsR | stat | rmrf) drop_caches ;;
	esac
	case $w in
	untar) mkdir "$d/tree" ;;
	creates) mkdir "$d/small" ;;
	esac
	return 0
}

# run_wl REP ORDER T W DIR BACKING: prepare, time W, append a CSV line.
run_wl() {
	local rep=$1 ord=$2 t=$3 w=$4 d=$5 bk=$6
	local log=$OUT/out-r$rep-$t-$w.txt t0 t1 c0 c1 rc s bytes=0 ops=0 val unit cpu="" hwm fmib
	local status=${SESSION_STATUS:-ok}
	prep "$w" "$d"
	c0=$(cpu_of "$DPID")
	t0=$(now)
	rc=0
	run_workload "$w" "$d" "$bk" "$log" || rc=$?
	t1=$(now)
	c1=$(cpu_of "$DPID")
	hwm=$(hwm_of "$DPID")
	s=$(secs "$t0" "$t1")
	[ -n "$c0" ] && cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')
	if [ $rc -ne 0 ]; then
		note "FAILED: $t $w (rep $rep), exit $rc:"
		tail -5 "$log" >&2
		echo "$stamp,$rep,$ord,$t,$w,fail,$s,,,,,$cpu,$hwm," >>"$CSV"
		return 0
	fi
	case $w in
	seqwrite | seqread)
		bytes=$((SEQ_MB * 1048576)) ops=$SEQ_MB unit=MiB/s
		val=$(awk -v m="$SEQ_MB" -v s="$s" 'BEGIN { printf "%.2f", m / s }')
		;;
	randread | randread0 | randwrite)
		# "issued rwts: total=READS,WRITES,TRIMS,0": what fio really did
		# (it stops at the size or the time cap); the time includes the
		# end fsync.
		ops=$(sed -n 's/.*issued rwts: total=\([0-9]*\),\([0-9]*\),.*/\1 \2/p' "$log" |
			awk -v w="$w" '{ print (w == "randwrite") ? $2 : $1; exit }')
		[ -n "$ops" ] || die "$log: no fio totals"
		bytes=$((ops * 4096)) unit=IOPS
		val=$(awk -v o="$ops" -v s="$s" 'BEGIN { printf "%.1f", o / s }')
		;;
	*)
		ops=$NTREE unit=s val=$s
		[ "$w" = creates ] && ops=$NCREATE
		;;
	esac
	case $w in randread | randread0) fmib=$RR_MB ;; *) fmib="" ;; esac
	echo "$stamp,$rep,$ord,$t,$w,$status,$s,$bytes,$ops,$val,$unit,$cpu,$hwm,$fmib" >>"$CSV"
	printf '  %-9s %-10s %10.2f %-5s (%.2f s%s)\n' "$t" "$w" "$val" "$unit" "$s" \
		"${cpu:+, daemon cpu ${cpu} s}" >&2
}

# transport_of MNT: what a scratchfs mount's daemon talks to the kernel
# over (io_uring or dev_fuse, from its status document).
transport_of() {
	getfattr --only-values -n scratchfs.status "$1" 2>/dev/null |
		sed -n 's/.*"transport":"\([a-z_]*\)".*/\1/p'
}

# session REP ORDER T: a fresh backing dir, mount, every workload, unmount.
# A scratchfs session that did not get the transport its target names
# (someone else switched enable_uring meanwhile) is measured but its rows
# are marked, and the summary leaves them out.
SESSION_STATUS=ok
session() {
	local rep=$1 ord=$2 t=$3 base bk mnt d res tr want=""
	base=$WORK/r$rep-$t
	bk=$base/backing mnt=$base/mnt
	mkdir -p "$bk" "$mnt"
	wait_quiet
	[ "$t" = hbi1uring ] && uring_set Y
	mount_target "$t" "$bk" "$mnt" "$OUT/daemon-r$rep-$t.log"
	SESSION_STATUS=ok
	tr=""
	case $t in
	hbi1uring) want=io_uring ;;
	hbi*) want=dev_fuse ;;
	esac
	if [ -n "$want" ]; then
		tr=$(transport_of "$mnt")
		if [ "$tr" != "$want" ]; then
			note "WARNING: $t got transport '${tr:-?}', not $want: its rows of rep $rep are left out"
			SESSION_STATUS="transport ${tr:-unknown}"
		fi
	fi
	echo "$rep,$ord,$t,$(date +%T),$(cut -d' ' -f1 /proc/loadavg),$BUSY,$WAITED,$tr" >>"$OUT/sessions.csv"
	d=$mnt
	[ "$t" = native ] && d=$bk
	drop_caches
	for w in $WORKLOADS; do
		run_wl "$rep" "$ord" "$t" "$w" "$d" "$bk"
		if [ "$w" = seqwrite ] && [ "$t" != native ]; then
			# drop_caches must really empty the FUSE page cache, or
			# the "cold" reads are warm.
			drop_caches
			res=$(fincore -b -n -o RES "$d/seq.bin" 2>/dev/null | tr -d ' ' || true)
			if [ "${res:-0}" = 0 ]; then
				COLD_OK=$((COLD_OK + 1))
			else
				COLD_BAD=$((COLD_BAD + 1))
				note "WARNING: $t: $res bytes of seq.bin still cached after drop_caches"
			fi
		fi
		if [ "$w" = randwrite ]; then
			rm -f "$d/seq.bin" "$d/rr.bin"
			sync
		fi
	done
	unmount_target "$mnt"
	[ "$t" = hbi1uring ] && uring_set N
	SESSION_STATUS=ok
	rm -rf --one-file-system -- "$base"
}

# -------------------------------------------------------------- metadata --

write_meta() {
	{
		echo "date: $(date -Is)"
		echo "mode: $([ "$QUICK" = 1 ] && echo quick || echo full), $REPS repetition(s), targets: $TARGETS"
		echo "sizes: seq ${SEQ_MB} MiB; fio rand read ${RR_MB} MiB file, cap ${RR_T} s; rand write cap ${RW_IO} MiB/${RW_T} s; tree ${TREE_SRC} (${NTREE} entries, ${NFILES} files, ${TREE_MB} MiB); ${NCREATE} creates"
		echo "git: $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$repo" diff --quiet HEAD 2>/dev/null || echo ' (+ uncommitted changes)')"
		echo "cpu: $(nproc) x $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo); aes-ni: $(grep -qw aes /proc/cpuinfo && echo yes || echo no)"
		echo "memory: $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
		echo "kernel: $(uname -sr)"
		# shellcheck disable=SC1091
		echo "os: $(. /etc/os-release && echo "$PRETTY_NAME") ($(cat /etc/debian_version 2>/dev/null || true))"
		echo "backing fs: $(findmnt -n -o SOURCE,FSTYPE,OPTIONS -T "$WORK")"
		local dev
		dev=$(findmnt -n -o SOURCE -T "$WORK" | sed 's|^/dev/||; s|[0-9]*$||')
		[ -e "/sys/block/$dev" ] && echo "disk: $dev, $(sed 's/1/rotational (as reported)/; s/0/non-rotational/' "/sys/block/$dev/queue/rotational" 2>/dev/null), scheduler $(cat "/sys/block/$dev/queue/scheduler" 2>/dev/null)"
		echo "scratchfs: $("$SFS" -V 2>&1 | head -1), built-in defaults (hbi1, hbi0: fuse.io_uring = false), binary $SFS of $(date -r "$SFS" -Is)"
		echo "gocryptfs: $(gocryptfs -version 2>/dev/null | head -1)"
		echo "passthrough_ll: libfuse $(pkg-config --modversion fuse3 2>/dev/null || echo '?') example from $PTLL_DOC, built into $PTLL, run as: passthrough_ll -f -o source=BACKING,$PTLL_OPTS MNT (multithreaded loop, writeback cache; cache=auto and timeout=1 s, the example's defaults), read_ahead_kb $PTLL_RA_KB; ptllx: the same with -o $PTLL_OPTS,xattr"
		echo "fio: $(fio --version 2>/dev/null)"
		echo "libsodium: $(pkg-config --modversion libsodium 2>/dev/null || echo '?')"
		echo "openssl (libcrypto, AES-GCM blocks): $(pkg-config --modversion libcrypto 2>/dev/null || echo '?')"
		echo "fuse.enable_uring: $URING_NOTE"
	} >"$OUT/meta.txt"
}

# The cipher scratchfs chose for a volume: byte 33 of its header.
cipher_of() {
	case $(od -An -tu1 -j33 -N1 "$1/.scratchfs/volume" 2>/dev/null | tr -d ' ') in
	1) echo xchacha20poly1305 ;;
	2) echo aes256gcm ;;
	*) echo "?" ;;
	esac
}

# ------------------------------------------------------------ source data --

note "scratch dir $WORK, results $OUT"
src_mb=$SEQ_MB
[ "$COPY_MB" -gt "$src_mb" ] && src_mb=$COPY_MB
note "making ${src_mb} MiB of random source data in $SHM"
# Random, not zeros: nothing may get a free ride from zero detection.
# (openssl ends on SIGPIPE when head has enough.)
{ openssl enc -aes-128-ctr -pass pass:scratchfs-bench -nosalt -pbkdf2 \
	</dev/zero 2>/dev/null || true; } | head -c "$((src_mb * 1048576))" >"$SHM/src.bin"
[ "$(stat -c %s "$SHM/src.bin")" -eq $((src_mb * 1048576)) ] || die "could not make source data"
# shellcheck disable=SC2086
tar -cf "$SHM/tree.tar" -C / $TREE_SRC 2>/dev/null || [ -s "$SHM/tree.tar" ] || die "tar of $TREE_SRC failed"
NTREE=$(tar -tf "$SHM/tree.tar" | wc -l)
NFILES=$(tar -tvf "$SHM/tree.tar" | grep -c '^-' || true)
TREE_MB=$(($(stat -c %s "$SHM/tree.tar") / 1048576))
note "tree: $TREE_SRC, $NTREE entries ($NFILES regular files), ${TREE_MB} MiB"
write_meta

# ---------------------------------------------------------------- profile --

# perf_summary DATA TITLE DAEMON_PID: the top entries of a profile of the
# daemon and of the workload's processes (nothing else that runs on the
# machine). "Samples" at 999 Hz: 1000 samples are about one CPU second.
perf_summary() {
	local data=$1 pid=$3
	set +o pipefail
	rep() { perf report -i "$data" --stdio -g none -n "$@" 2>/dev/null | grep -v -e '^#' -e '^$' || true; }
	echo "# $2 (perf record -g -F 999 -p DAEMON,WORKLOAD; 1000 samples ~ 1 CPU s)"
	echo "## by command (scratchfs = the daemon)"
	rep --no-children --sort comm | head -12
	echo "## daemon: self time by object"
	rep --pid "$pid" --no-children --sort dso | head -10
	echo "## daemon: self time by symbol"
	rep --pid "$pid" --no-children --sort sym | head -40
	echo "## daemon: inclusive time by symbol (kernel call chains)"
	rep --pid "$pid" --children --sort sym | head -60
	echo "## workload processes: self time by command and symbol"
	rep --no-children --sort comm,sym | grep -v ' scratchfs ' | head -30
	set -o pipefail
}

# fuse_requests T: count the FUSE requests each workload sends to a fresh
# mount of T (tracepoint fuse:fuse_request_send, that connection only).
REQ_WORKLOADS="seqwrite seqread randread randread0 untar lsR stat rmrf creates"
fuse_requests() {
	local t=$1 base bk mnt conn w
	base=$WORK/req-$t bk=$WORK/req-$t/backing mnt=$WORK/req-$t/mnt
	mkdir -p "$bk" "$mnt"
	mount_target "$t" "$bk" "$mnt" "$OUT/daemon-req-$t.log"
	conn=$(mountpoint -d "$mnt" | cut -d: -f2)
	for w in $REQ_WORKLOADS; do
		prep "$w" "$mnt"
		perf record -a -e fuse:fuse_request_send --filter "connection == $conn" \
			-o "$OUT/req-$t-$w.data" >/dev/null 2>"$OUT/req-$t-$w.err" &
		BGPIDS=$!
		sleep 1
		run_workload "$w" "$mnt" "$bk" "$OUT/out-req-$t-$w.txt" ||
			note "$t $w failed: $(tail -3 "$OUT/out-req-$t-$w.txt")"
		kill -INT "$BGPIDS"
		wait "$BGPIDS" || true
		BGPIDS=""
		perf script -i "$OUT/req-$t-$w.data" 2>/dev/null |
			sed -n 's/.* opcode [0-9]* (\([A-Z_0-9]*\)).*/\1/p' | sort | uniq -c |
			awk -v t="$t" -v w="$w" '{ print t "," w "," $2 "," $1 }' >>"$OUT/requests.csv"
		rm -f "$OUT/req-$t-$w.data"
		[ "$w" = seqread ] && rm -f "$mnt/seq.bin"
		[ "$w" = randread0 ] && rm -f "$mnt/rr.bin"
	done
	unmount_target "$mnt"
	rm -rf --one-file-system -- "$base"
	note "counted the FUSE requests of $t"
}

# requests_summary CSV: requests per workload and target, and the most
# frequent opcodes.
requests_summary() {
	echo "### FUSE requests per workload (fuse:fuse_request_send)"
	echo
	echo "| workload | target | requests | top opcodes |"
	echo "|---|---|---:|---|"
	sort -t, -k2,2 -k1,1 -k4,4nr "$1" | awk -F, -v order="$REQ_WORKLOADS" '
	{
		k = $2 SUBSEP $1
		if (!(k in tot)) keys[++n] = k
		tot[k] += $4
		if (++seen[k] <= 5) top[k] = top[k] sprintf("%s%s %d", (seen[k] > 1) ? ", " : "", substr($3, 6), $4)
	}
	END {
		nw = split(order, W, " "); nt = split("hbi1 hbi0 ptll gocryptfs", T, " ")
		name["hbi1"] = "scratchfs hbi=1"; name["hbi0"] = "scratchfs hbi=0"
		name["ptll"] = "passthrough_ll"; name["gocryptfs"] = "gocryptfs"
		for (i = 1; i <= nw; i++) for (j = 1; j <= nt; j++) {
			k = W[i] SUBSEP T[j]
			if (k in tot) printf "| %s | %s | %d | %s |\n", W[i], name[T[j]], tot[k], top[k]
		}
	}'
}

# profile_target T: perf of T (BENCH_PROFILE_TARGETS, default hbi1) on the
# data workloads, untar, ls -lR and creates: the daemon's threads and the
# workload's processes, with kernel stacks, so the FUSE round trips on both
# sides show up next to the daemon's own code.
profile_target() {
	local t=$1 base bk mnt w rc
	base=$WORK/prof-$t bk=$WORK/prof-$t/backing mnt=$WORK/prof-$t/mnt
	mkdir -p "$bk" "$mnt"
	wait_quiet
	mount_target "$t" "$bk" "$mnt" "$OUT/daemon-profile-$t.log"
	[ "$t" = hbi1 ] && note "cipher: $(cipher_of "$bk")"
	for w in seqwrite seqread randread randread0 untar lsR creates; do
		prep "$w" "$mnt"
		# The workload waits a second so perf is attached to it (and
		# follows its children) before it starts.
		(
			sleep 1
			set -e
			t0=$(now)
			"wl_$w" "$mnt" "$bk"
			secs "$t0" "$(now)" >"$OUT/time-$w"
		) >"$OUT/out-profile-$t-$w.txt" 2>&1 &
		WLPID=$!
		perf record -g -F 999 -p "$DPID,$WLPID" -o "$OUT/perf-$t-$w.data" \
			>/dev/null 2>"$OUT/perf-$t-$w.err" &
		BGPIDS=$!
		rc=0
		wait "$WLPID" || rc=$?
		WLPID=""
		kill -INT "$BGPIDS"
		wait "$BGPIDS" || true
		BGPIDS=""
		[ $rc -eq 0 ] || note "$t $w failed: $(tail -3 "$OUT/out-profile-$t-$w.txt")"
		note "$t $w: $(cat "$OUT/time-$w" 2>/dev/null) s"
		perf_summary "$OUT/perf-$t-$w.data" "$t $w: $(cat "$OUT/time-$w" 2>/dev/null) s" "$DPID" \
			>"$OUT/profile-$t-$w.txt"
		# As in the bench: the tree is gone before the creates (scratchfs
		# holds an fd per inode the kernel knows).
		[ "$w" = seqread ] && rm -f "$mnt/seq.bin"
		[ "$w" = randread0 ] && rm -f "$mnt/rr.bin"
		[ "$w" = lsR ] && rm -rf "$mnt/tree"
	done
	unmount_target "$mnt"
	rm -rf --one-file-system -- "$base"
}

if [ "$PROFILE" = 1 ]; then
	for t in ${BENCH_PROFILE_TARGETS:-hbi1}; do
		case $t in ptll | hbi1 | hbi0 | gocryptfs) profile_target "$t" ;;
		*) die "BENCH_PROFILE_TARGETS: '$t' cannot be profiled (ptll hbi1 hbi0 gocryptfs)" ;;
		esac
	done
	note "profiles in $OUT/profile-*.txt (perf data: $OUT/perf-*.data)"
	# FUSE round trips: the requests each workload sends, per target.
	for t in hbi1 hbi0 ptll gocryptfs; do
		case " $TARGETS " in *" $t "*) fuse_requests "$t" ;; esac
	done
	requests_summary "$OUT/requests.csv" >"$OUT/requests.md"
	cat "$OUT/requests.md"
	exit 0
fi

# ------------------------------------------------------------------- runs --

t_start=$(now)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
case $LOAD0 in 0.* | 1.[0-4]*) ;; *) note "WARNING: load average $LOAD0: other work on this machine will add noise" ;; esac
read -r -a tg <<<"$TARGETS"
for rep in $(seq 1 "$REPS"); do
	# Rotate the order: repetition r starts with the r-th target.
	order=""
	for i in "${!tg[@]}"; do
		order="$order ${tg[(i + rep - 1) % ${#tg[@]}]}"
	done
	note "repetition $rep/$REPS: order$order"
	o=0
	for t in $order; do
		o=$((o + 1))
		session "$rep" "$o" "$t"
	done
done

# 2 GiB copy-in: the hbi=1 daemon's peak RSS while cp writes a big file
# (over /dev/fuse, as enable_uring is off outside hbi1uring sessions);
# then the wipe timing rows on volumes of three sizes.
copyin_and_wipe() {
	local mb=$1 wipe=$2 bk mnt base t0 t1 s json rc=0 f n
	base=$WORK/w$mb bk=$base/backing mnt=$base/mnt
	mkdir -p "$bk" "$mnt"
	mount_target hbi1 "$bk" "$mnt" "$OUT/daemon-wipe-$mb.log"
	if [ "$mb" = "$COPY_MB" ]; then
		sync
		t0=$(now)
		cp "$SHM/src.bin" "$mnt/big.bin"
		sync -f "$mnt"
		t1=$(now)
		s=$(secs "$t0" "$t1")
		echo "$stamp,1,1,hbi1,copyin,ok,$s,$((mb * 1048576)),1,$(awk -v m="$mb" -v s="$s" 'BEGIN { printf "%.2f", m / s }'),MiB/s,$(cpu_of "$DPID"),$(hwm_of "$DPID")," >>"$CSV"
		note "copy-in ${mb} MiB: $s s, daemon VmHWM $(hwm_of "$DPID") KiB"
	else
		# Fill with 1 GiB files (the last one shorter).
		n=0
		while [ $((n * 1024)) -lt "$mb" ]; do
			f=$((mb - n * 1024))
			[ $f -gt 1024 ] && f=1024
			dd if="$SHM/src.bin" of="$mnt/f$n" bs=1M count=$f status=none
			n=$((n + 1))
		done
	fi
	[ "$wipe" = 1 ] || { unmount_target "$mnt"; rm -rf --one-file-system -- "$base"; return 0; }
	sync
	t0=$(now)
	json=$("$WIPE" -c "$CONF" --json "$bk" 2>"$OUT/wipe-$mb.err") || rc=$?
	t1=$(now)
	echo "$json" >"$OUT/wipe-$mb.json"
	# The wipe unmounted it: reap the daemon.
	for i in $(seq 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
	if mountpoint -q "$mnt"; then
		note "scratchfs-wipe left $mnt mounted"
		unmount_target "$mnt"
	else
		wait "$DPID" 2>/dev/null || true
		PIDS=$(echo "$PIDS" | tr ' ' '\n' | grep -vx "$DPID" | tr '\n' ' ' || true)
		MOUNTS=$(echo "$MOUNTS" | tr ' ' '\n' | grep -vx "$mnt" | tr '\n' ' ' || true)
		DPID=""
	fi
	# The first (top-level) occurrence of a key: the document also nests
	# keys of the same names further on.
	jfirst() { printf '%s' "$json" | grep -o "\"$1\"[[:space:]]*:[[:space:]]*$2" | head -1 | sed 's/^[^:]*:[[:space:]]*//; s/"//g'; }
	jnum() { jfirst "$1" '[0-9.eE+-]*'; }
	jstr() { jfirst "$1" '"[^"]*"'; }
	jbool() { jfirst "$1" '\(true\|false\)'; }
	if [ $rc -ne 0 ]; then
		note "scratchfs-wipe failed ($rc) on the $mb MiB volume: $(tail -3 "$OUT/wipe-$mb.err")"
		echo "$stamp,$mb,exit $rc,,,,,$(secs "$t0" "$t1"),,," >>"$WCSV"
	else
		echo "$stamp,$mb,ok,$(jnum erase_ms),$(jnum delete_ms),$(jnum unmount_ms),$(jnum total_ms),$(secs "$t0" "$t1"),$(jnum files),$(jstr method),$(jbool verified)" >>"$WCSV"
		note "wipe ${mb} MiB: erase $(jnum erase_ms) ms, delete $(jnum delete_ms) ms, total $(jnum total_ms) ms"
	fi
	rm -rf --one-file-system -- "$base"
}

if [ "${BENCH_NO_WIPE:-0}" = 1 ]; then
	copyin_and_wipe "$COPY_MB" 0
elif [ -x "$WIPE" ]; then
	for mb in $WIPE_SIZES; do copyin_and_wipe "$mb" 1; done
	case " $WIPE_SIZES " in *" $COPY_MB "*) ;; *) copyin_and_wipe "$COPY_MB" 0 ;; esac
else
	note "$WIPE not built: no wipe rows"
	copyin_and_wipe "$COPY_MB" 0
fi

# scratchfs-ctl selftest on the bench's disk: its wall time against the
# 5 s target (doc/scratchfs-ctl.8), each run's checks in selftest-N.json.
CTL=$BUILD/scratchfs-ctl
SELFTEST=" not built"
if [ -x "$CTL" ]; then
	SELFTEST=""
	for i in $(seq "$REPS"); do
		t0=$(now)
		if "$CTL" selftest -c "$CONF" --backing-root "$WORK" --json \
			>"$OUT/selftest-$i.json" 2>>"$OUT/selftest.err"; then r=pass; else r=FAIL; fi
		SELFTEST="$SELFTEST $r $(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.0f ms", (b - a) * 1000 }'),"
	done
fi

# A cold walk of 300k files (20k quick): the hbi=1 daemon's memory per
# cached entry, and what parking by path costs (hbi=0 mounted by root and
# by an ordinary user); bench/walk.sh, over /dev/fuse.
if [ "${BENCH_NO_WALK:-0}" != 1 ]; then
	walk_files=300000
	[ "$QUICK" = 1 ] && walk_files=20000
	WALK_FILES=$walk_files BENCH_DIR=$PARENT WALK_RUNS=${BENCH_WALK_RUNS:-} \
		"$here/walk.sh" "$BUILD" "$OUT/walk.txt" ||
		note "walk.sh failed: no walk rows"
fi

t_end=$(now)
{
	echo "scratchfs-ctl selftest (target < 5000 ms):${SELFTEST%,}"
	echo "duration: $(awk -v a="$t_start" -v b="$t_end" 'BEGIN { printf "%.0f s", b - a }'); load average at start: $LOAD0, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "drop_caches check: the FUSE page cache of the test file was empty after drop_caches in $COLD_OK of $((COLD_OK + COLD_BAD)) FUSE sessions"
} >>"$OUT/meta.txt"
{
	echo "## scratchfs benchmark $stamp"
	echo
	sed 's/^/    /' "$OUT/meta.txt"
	echo
	summarize "$OUT"
	if [ -s "$OUT/walk.txt" ]; then
		echo
		sed 's/^/    /' "$OUT/walk.txt"
	fi
} >"$OUT/table.md"
cat "$OUT/table.md"
note "saved in $OUT"
exit 0
}
