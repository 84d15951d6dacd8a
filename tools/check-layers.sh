#!/bin/bash
# check-layers.sh - every #include "..." of the daemon and the tools points
# at a header its folder may use; run by `make check` (and `make
# check-layers`). Prints each offending line and exits 1.
#
# The daemon's library is one folder a layer, lowest first (LAYERS below):
# fs/LAYER/*.c and include/LAYER/*.h may include the headers of their own
# layer and of the layers below it, never of one above. fs/main.c wires
# them all. A tool (tools/NAME/) may use every layer, the libraries the
# tools share (tools/libNAME/: the wipe engine, the plugins' volume daemons)
# and its own folder, never another tool's.
# The tests may include anything.
set -u
cd "$(dirname "$0")/.." || exit 2

LAYERS=(base format store volume fuse)
bad=0

# The folder that holds header $1 (a bare name), or "" for none.
home_of() {
	local d
	for d in "${LAYERS[@]/#/include/}" tools/*/; do
		d=${d%/}
		if [ -f "$d/$1" ]; then
			echo "$d"
			return
		fi
	done
}

# The rank of layer $1 in LAYERS, or -1.
rank() {
	local i
	for i in "${!LAYERS[@]}"; do
		[ "${LAYERS[$i]}" = "$1" ] && echo "$i" && return
	done
	echo -1
}

# Whether a file in folder $1 may include a header in folder $2.
allowed() {
	local from=$1 to=$2
	case "$from" in
	fs | tools/*)
		case "$to" in
		include/*) return 0 ;;
		"$from" | tools/lib*) return 0 ;;
		esac
		return 1
		;;
	fs/* | include/*)
		case "$to" in
		include/*) ;;
		*) return 1 ;;
		esac
		[ "$(rank "${to#include/}")" -le "$(rank "${from#*/}")" ]
		;;
	esac
}

while IFS= read -r src; do
	from=$(dirname "$src")
	while IFS=: read -r line hdr; do
		to=$(home_of "$hdr")
		if [ -z "$to" ]; then
			echo "$src:$line: #include \"$hdr\": no such header in" \
				"include/LAYER/ or tools/NAME/"
			bad=1
		elif [ "$to" != "$from" ] && ! allowed "$from" "$to"; then
			echo "$src:$line: #include \"$hdr\" ($to/) reaches" \
				"outside what $from/ may use"
			bad=1
		fi
	done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$src" |
		sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1:\2/')
done < <(find fs include tools -name '*.[ch]' | sort)

if [ "$bad" -ne 0 ]; then
	echo "check-layers: the includes above break the layering" \
		"(README.md, Source tree)" >&2
	exit 1
fi
