# pytests.sh - file-handling test modules of Debian's Python test suite
# (libpython3.11-testsuite) run with their working directory and TMPDIR
# on WORK. The transcript is each test's outcome (ok, skipped and why,
# FAIL, ERROR), sorted, and for a failure its exception line.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODULES="test_os test_shutil test_fileio test_mmap test_fcntl"

# The outcome lines of a verbose regrtest log; process ids and timings
# out.
outcomes() {
	sed -E -e 's/@test_[0-9]+_/@test_N_/g' -e 's/test_python_[0-9]+/test_python_N/g' \
		-e 's/ \([0-9.]+s\)//' "$1" |
		grep -E ' \.\.\. (ok|FAIL|ERROR|skipped.*|expected failure|unexpected success)$' |
		sort
	# For each failure, the last line of its traceback.
	awk '/^(ERROR|FAIL): / { name = $0; next }
		name && /^[A-Za-z.]*(Error|Exception)/ { print name ": " $0; name = "" }' "$1" |
		sed -E -e 's/@test_[0-9]+_/@test_N_/g' -e 's/test_python_[0-9]+/test_python_N/g'
}

step "mkdir" mkdir "$W/py"
for m in $MODULES; do
	(cd "$W/py" && TMPDIR=$W/py "$PY" -m test -v "$m") >"$T/$m.log" 2>&1
	echo "$m: rc=$?"
	outcomes "$T/$m.log" | norm | sed -e 's/^/  | /'
	grep -q "Tests result: SUCCESS" "$T/$m.log" || bad=$((bad + 1))
done
check "nothing left behind" test "$(find "$W/py" -mindepth 1 | wc -l)" -eq 0
finish
