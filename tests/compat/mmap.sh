# mmap.sh - shared and private mappings written and read by several
# processes (mmap_procs.py), then the file read by other programs.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

step "mkdir" mkdir "$W/m"
show "mmap writers" "$PY" "$HERE/mmap_procs.py" "$W/m"
show "od" od -A d -t c -N 16 -j 12288 "$W/m/mapped"
step "cp mapped" cp "$W/m/mapped" "$W/m/copy"
step "cmp" cmp "$W/m/mapped" "$W/m/copy"
listing "$W/m"
finish
