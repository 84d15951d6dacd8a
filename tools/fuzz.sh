#!/bin/bash
# fuzz.sh - run the libFuzzer harnesses that `make fuzz-build` made.
#
# usage: tools/fuzz.sh run   BUILD_DIR SECONDS   (make fuzz)
#        tools/fuzz.sh check BUILD_DIR           (make fuzz-check)
#        tools/fuzz.sh table BUILD_DIR           (the totals, Markdown)
#
# BUILD_DIR/fuzzers/fuzz_NAME is the harness of tests/fuzz/fuzz_NAME.c; its
# seeds are tests/fuzz/corpus/fuzz_NAME/, its dictionary (if any)
# tests/fuzz/fuzz_NAME.dict, its crash reproducers tests/fuzz/regressions/
# fuzz_NAME/. One harness runs at a time, at nice 19 (a shared machine).
# FUZZ_HARNESSES="fuzz_a fuzz_b" limits a run or check to those.
#
# run:   each harness for SECONDS, growing BUILD_DIR/corpus/fuzz_NAME (kept
#        between runs, never committed); crashes go to
#        BUILD_DIR/crashes/fuzz_NAME/. Prints one line per harness (time,
#        executions, coverage, crashes) and appends it to
#        BUILD_DIR/fuzz-runs.tsv, the running total behind doc/FUZZING.md.
# check: replays every seed and every reproducer once, then runs each
#        harness for SFS_FUZZ_SMOKE seconds (default 2) from its seeds in a
#        temporary directory. Ends with one PASS or FAIL line.
set -u
cd "$(dirname "$0")/.." || exit 2

mode=${1:-}
build=${2:-}
# table: per harness, the runs of BUILD_DIR/fuzz-runs.tsv summed (time,
# executions, crashes) and the coverage of its last run.
if [ "$mode" = table ] && [ -f "$build/fuzz-runs.tsv" ]; then
	echo "| Harness | Runs | Total time | Executions | Final cov (edges) | Final ft (features) | Crashes found |"
	echo "|---|---|---|---|---|---|---|"
	awk -F'\t' '{ if (!($2 in runs)) order[n++] = $2; runs[$2]++; t[$2] += $3;
		e[$2] += $4; cov[$2] = $5; ft[$2] = $6; c[$2] += $7 }
		END { for (i = 0; i < n; i++) { h = order[i];
			printf "| %s | %d | %dm%02ds | %d | %d | %d | %d |\n", h, runs[h],
				t[h] / 60, t[h] % 60, e[h], cov[h], ft[h], c[h] } }' \
		"$build/fuzz-runs.tsv"
	exit 0
fi
if [ -z "$build" ] || [ ! -d "$build/fuzzers" ] ||
	{ [ "$mode" != run ] && [ "$mode" != check ]; } ||
	{ [ "$mode" = run ] && ! [[ ${3:-} =~ ^[0-9]+$ ]]; }; then
	echo "usage: $0 run BUILD_DIR SECONDS | check BUILD_DIR | table BUILD_DIR" >&2
	exit 2
fi

# Longest input each harness reads meaningfully (libFuzzer's default is the
# longest seed, at least 4096).
max_len() {
	case $1 in
	fuzz_content) echo 8400 ;;
	fuzz_names) echo 600 ;;
	fuzz_keyout) echo 80 ;;
	fuzz_volume) echo 400 ;;
	*) echo 4200 ;;
	esac
}

# The options of one harness run, into the array opts.
harness_opts() {
	local name=$1
	opts=(-max_len="$(max_len "$name")" -timeout=10 -rss_limit_mb=2048
		-print_final_stats=1)
	[ -f "tests/fuzz/$name.dict" ] && opts+=(-dict="tests/fuzz/$name.dict")
	# The plugin logs every refused request to stderr: keep the log short.
	[ "$name" = fuzz_plugin_api ] && opts+=(-close_fd_mask=2)
	return 0
}

# On tmpfs when there is one: the plugin harnesses fsync their state.
tmpbase=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && tmpbase=/dev/shm
tmp=$(mktemp -d "$tmpbase/sfs-fuzz.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
# The plugin harnesses' state files and volume trees live under it.
export SFS_FUZZ_TMP=$tmp
# Leaks of libraries we cannot fix (each with its reason in the file).
export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

# "execs cov ft" from a libFuzzer log.
stats() {
	local execs cov ft
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$1" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$1" | tail -1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$1" | tail -1 | cut -d' ' -f2)
	echo "${execs:-0} ${cov:-0} ${ft:-0}"
}

fail=0
total_replayed=0
n=0
for bin in "$build"/fuzzers/fuzz_*; do
	name=${bin##*/}
	if [ -n "${FUZZ_HARNESSES:-}" ] && [[ " $FUZZ_HARNESSES " != *" $name "* ]]; then
		continue
	fi
	seeds=tests/fuzz/corpus/$name
	regs=tests/fuzz/regressions/$name
	harness_opts "$name"
	n=$((n + 1))
	if [ "$mode" = run ]; then
		secs=$3
		work=$build/corpus/$name
		crashes=$build/crashes/$name
		mkdir -p "$work" "$crashes" "$build/logs"
		log=$build/logs/$name.log
		before=$(find "$crashes" -type f | wc -l)
		start=$(date +%s)
		nice -n 19 "$bin" "${opts[@]}" -max_total_time="$secs" \
			-artifact_prefix="$crashes/" "$work" "$seeds" >"$log" 2>&1
		rc=$?
		took=$(($(date +%s) - start))
		found=$(($(find "$crashes" -type f | wc -l) - before))
		read -r execs cov ft < <(stats "$log")
		printf '%-20s %5ss %10s execs  cov %5s  ft %6s  crashes %s%s\n' \
			"$name" "$took" "$execs" "$cov" "$ft" "$found" \
			"$([ $rc -ne 0 ] && echo "  (exit $rc, see $log)")"
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" \
			"$name" "$took" "$execs" "$cov" "$ft" "$found" \
			>>"$build/fuzz-runs.tsv"
		[ $rc -ne 0 ] && fail=1
		continue
	fi
	# check: replay, then smoke.
	inputs=()
	for d in "$seeds" "$regs"; do
		[ -d "$d" ] || continue
		while IFS= read -r -d '' f; do
			inputs+=("$f")
		done < <(find "$d" -type f ! -name '*.md' -print0 | sort -z)
	done
	log=$tmp/$name.log
	if [ ${#inputs[@]} -gt 0 ] &&
		! nice -n 19 "$bin" "${opts[@]}" "${inputs[@]}" >"$log" 2>&1; then
		echo "$name: FAIL replaying the corpus and reproducers:"
		tail -n 30 "$log"
		fail=1
		continue
	fi
	total_replayed=$((total_replayed + ${#inputs[@]}))
	mkdir -p "$tmp/work-$name"
	if ! nice -n 19 "$bin" "${opts[@]}" -max_total_time="${SFS_FUZZ_SMOKE:-2}" \
		-artifact_prefix="$tmp/" "$tmp/work-$name" \
		$([ -d "$seeds" ] && echo "$seeds") >"$log" 2>&1; then
		echo "$name: FAIL in a ${SFS_FUZZ_SMOKE:-2} s run (reproducer and log below):"
		ls "$tmp"/crash-* "$tmp"/leak-* "$tmp"/timeout-* 2>/dev/null
		tail -n 30 "$log"
		fail=1
		continue
	fi
	read -r execs cov ft < <(stats "$log")
	printf '%-20s %4s inputs replayed, smoke %s s: %s execs, cov %s: ok\n' \
		"$name" "${#inputs[@]}" "${SFS_FUZZ_SMOKE:-2}" "$execs" "$cov"
done
if [ "$mode" = check ]; then
	if [ $fail -eq 0 ]; then
		echo "fuzz-check: PASS ($n harnesses, $total_replayed inputs replayed)"
	else
		echo "fuzz-check: FAIL"
	fi
fi
exit $fail
