# venv.sh - a Python virtual environment on WORK (Debian's python3 -m
# venv) and a local package built and installed into it with
# pip --no-index: from its source tree, then editable.
#
# The venv sees Debian's pip, setuptools and wheel (--system-site-packages,
# --without-pip): unpacking pip itself into every venv (ensurepip) costs
# seconds of CPU per run and adds nothing the package install does not
# exercise.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Only this scenario's settings reach pip (no user or site pip.conf, no
# PIP_* from the environment, never the network).
for v in $(env | sed -n -e 's/^\(PIP_[A-Z_]*\)=.*/\1/p'); do
	unset "$v"
done
export PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1 \
	PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 \
	PYTHONDONTWRITEBYTECODE=1 SOURCE_DATE_EPOCH=1600000000
V=$W/venv
K=$W/pkg
PIP=("$V/bin/python" -m pip -q)
# Building uses Debian's setuptools and wheel, not a fresh download.
BUILD=(--no-build-isolation)

step "venv" "$PY" -m venv --without-pip --system-site-packages "$V"
show "venv python" "$V/bin/python" -c 'import sys; print(sys.prefix != sys.base_prefix, sys.version_info[:2])'
show "pyvenv.cfg" grep -c . "$V/pyvenv.cfg"

step "copy package" cp -r "$HERE/pypkg" "$K"

step "pip install" "${PIP[@]}" install "${BUILD[@]}" --no-compile "$K"
show "console script" "$V/bin/compat-hello"
show "import" "$V/bin/python" -c 'import compat_hello, os, sys
print(os.path.relpath(compat_hello.__file__, sys.prefix))'
show "installed files" sh -c 'cd "$1"/lib/python3*/site-packages &&
	find compat_hello* -type f | sort && cut -d, -f1 compat_hello*.dist-info/RECORD |
	sort' sh "$V"

# Editable over the installed one: pip uninstalls that first.
step "editable install" "${PIP[@]}" install "${BUILD[@]}" --no-compile -e "$K"
show "editable" "$V/bin/compat-hello"
step "edit source" sh -c 'printf "edited in place\n" >"$1"' sh \
	"$K/src/compat_hello/greeting.txt"
show "editable sees edit" "$V/bin/compat-hello"
show "site-packages" sh -c 'cd "$1"/lib/python3*/site-packages &&
	ls | grep -i compat' sh "$V"
finish
