# pytests.sh - file-handling test modules of Debian's Python test suite
# (libpython3.11-testsuite) run with their working directory and TMPDIR
# on WORK. The transcript is each test's outcome from regrtest's JUnit
# report (junit_outcomes.py): ok, skipped and why, or the exception of a
# failure or error.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODULES="test_os test_shutil test_fileio test_mmap test_fcntl"

step "mkdir" mkdir "$W/py"
for m in $MODULES; do
	(cd "$W/py" && TMPDIR=$W/py "$PY" -m test --junit-xml "$T/$m.xml" "$m") \
		>"$T/$m.log" 2>&1
	echo "$m: rc=$?"
	"$PY" "$HERE/junit_outcomes.py" "$T/$m.xml" | norm | sed -e 's/^/  | /'
	grep -q "Tests result: SUCCESS" "$T/$m.log" || bad=$((bad + 1))
done
check "nothing left behind" test "$(find "$W/py" -mindepth 1 | wc -l)" -eq 0
finish
