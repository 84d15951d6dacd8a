# locks.sh - flock(1) between processes (exclusive, shared, timeouts, a
# lock on a directory), POSIX record locks and OFD locks (locks.py).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

L=$W/lockfile

# hold MODE NAME: a background flock(1) holding L in MODE (-x or -s) until
# $O/release-NAME appears; returns once it holds the lock.
hold() {
	flock "$1" "$L" sh -c 'touch "$1/held-$2"
		while [ ! -e "$1/release-$2" ]; do sleep 0.02; done' sh "$O" "$2" &
	eval "holder_$2=$!"
	for _ in $(seq 500); do
		[ -e "$O/held-$2" ] && return 0
		sleep 0.02
	done
	echo "holder $2 never got the lock"
	bad=$((bad + 1))
}

release() {
	touch "$O/release-$1"
	eval "wait \$holder_$1"
	echo "holder $1 exit: $?"
}

step "create" touch "$L"
hold -x one
xstep "exclusive while exclusive" 1 flock -n -x "$L" true
xstep "shared while exclusive" 1 flock -n -s "$L" true
xstep "wait 0.2 s" 1 flock -w 0.2 -x "$L" true
release one
step "exclusive after release" flock -n -x "$L" true
hold -s two
hold -s three
step "shared while shared" flock -n -s "$L" true
xstep "exclusive while shared" 1 flock -n -x "$L" true
release two
xstep "exclusive while one shared" 1 flock -n -x "$L" true
release three
step "exclusive at the end" flock -n -x "$L" true
step "lock on a directory" flock -n -x "$W" true
step "lock by fd" sh -c 'exec 9>>"$1" && flock -n 9 && echo locked >&9' \
	sh "$L"
show "contents" cat "$L"
step "mkdir records" mkdir "$W/records"
show "fcntl and OFD locks" "$PY" "$HERE/locks.py" "$W/records"
finish
