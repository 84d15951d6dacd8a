# pytests.sh - file-handling test modules of Debian's Python test suite
# (libpython3.11-testsuite) run with their working directory and TMPDIR
# on WORK. The transcript is each module's count and verdict, and each
# failing test with its exception line.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODULES="test_os test_shutil test_fileio test_mmap test_fcntl"

# The outcome of a verbose regrtest log: how many tests ran, the verdict,
# and every test that failed or erred with the last line of its traceback.
# Not each "... ok" line: under load a thread's warning can land between a
# test's name and its "ok", which would read as a difference.
outcomes() {
	grep -E '^(Ran [0-9]+ tests?|OK|FAILED|Tests result:)' "$1" |
		sed -E -e 's/ in [0-9.]+s$//' -e 's/\(skipped=[0-9]+\)//'
	awk '/^(ERROR|FAIL): / { name = $0; next }
		name && /^[A-Za-z.]*(Error|Exception)/ { print name ": " $0; name = "" }' "$1" |
		sed -E -e 's/@test_[0-9]+_/@test_N_/g' -e 's/test_python_[0-9]+/test_python_N/g' |
		sort
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
