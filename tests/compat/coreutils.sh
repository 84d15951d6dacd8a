# coreutils.sh - cp -a out of WORK and into it, mv across directories and
# filesystems, install, ln, touch -d, truncate, and the file tools that
# scripts lean on (sed -i, sort with temp files, dd, find -newer, split).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

step "make tree" make_tree "$W/src"
listing -t "$W/src"

# cp -a out of the mount and back into it.
step "cp -a out" cp -a "$W/src" "$O/copy"
listing -t "$O/copy"
step "cp -a in" cp -a "$O/copy" "$W/back"
listing -t "$W/back"
step "diff -r" diff -r --no-dereference "$W/src" "$W/back"
step "cp -a within" cp -a "$W/src" "$W/again"
step "cp -r no attrs" cp -r "$W/src/sub" "$W/plain-copy"
check "cp -r leaves times" test "$W/plain-copy/numbers" -nt "$W/src/sub/numbers"

# mv: rename within a directory, across directories, out of the
# filesystem (copy + unlink) and back in.
step "mv rename" mv "$W/again/hello.txt" "$W/again/renamed.txt"
step "mv dir across" mv "$W/again/sub" "$W/back/sub-moved"
step "mv file across" mv "$W/again/page" "$W/back/sub-moved/page"
step "mv out" mv "$W/again/private" "$O/private-out"
step "mv in" mv "$O/private-out" "$W/back/private-in"
step "mv -T over empty dir" mv -T "$W/again/empty dir" "$W/back/empty dir"
listing -t "$W/again"
listing -t "$W/back"

# install, ln, touch -d, truncate.
step "install -D" install -D -m 0750 "$W/src/sub/script.sh" "$W/inst/a/b/run"
step "install -d" install -d -m 0711 "$W/inst/dir"
step "install -C" install -C -m 0644 "$W/src/hello.txt" "$W/inst/hello"
step "ln" ln "$W/inst/hello" "$W/inst/hello2"
step "ln -s" ln -s a/b/run "$W/inst/run-link"
step "ln -sf replace" ln -sf hello "$W/inst/run-link"
step "ln -sfn dir" ln -sfn a "$W/inst/dir-link"
xstep "ln exists" 1 ln "$W/inst/hello" "$W/inst/hello2"
show "readlink -f" readlink -f "$W/inst/dir-link/b/run"
step "touch -d" touch -d "2001-02-03 04:05:06.789" "$W/inst/hello"
step "touch -h -d" touch -h -d "@1000000000" "$W/inst/run-link"
step "touch -r" touch -r "$W/inst/hello" "$W/inst/dir"
step "touch -a -d" touch -a -d "@1234567890" "$W/inst/hello2"
show "stat times" stat -c '%n %X %Y %y' "$W/inst/hello" "$W/inst/hello2" \
	"$W/inst/dir"
show "stat link time" stat -c '%n %Y' "$W/inst/run-link"
step "truncate grow" truncate -s 1M "$W/inst/hello2"
step "truncate shrink" truncate -s 7 "$W/inst/hello"
step "truncate relative" truncate -s +4097 "$W/inst/hello"
step "truncate -s 0" truncate -s 0 "$W/inst/a/b/run"
step "touch -d all" find "$W/inst" -exec touch -h -d "$STAMP" {} +
listing -t "$W/inst"

# Tools that write through temporaries and positioned writes.
step "sed -i" sed -i -e 's/scratch/SCRATCH/' "$W/back/hello.txt"
show "sed result" cat "$W/back/hello.txt" "$W/back/sub/hardlink"
step "sort with temp files" sort -r -n -S 256K -T "$W" -o "$W/sorted" \
	"$W/src/sub/numbers"
show "sorted head" head -n 3 "$W/sorted"
check "no sort temp left" test "$(find "$W" -maxdepth 1 -name 'sort??????' |
	wc -l)" -eq 0
step "dd seek notrunc" dd if="$W/src/page" of="$W/dd.out" bs=512 seek=3 \
	count=5 conv=notrunc status=none
step "dd again notrunc" dd if="$W/src/hello.txt" of="$W/dd.out" bs=1 seek=1 \
	conv=notrunc status=none
step "dd sparse" dd if=/dev/zero of="$W/dd.sparse" bs=64K count=16 \
	conv=sparse status=none
step "dd fsync" dd if="$W/src/sub/numbers" of="$W/dd.fsync" bs=1M \
	conv=fsync status=none
step "split" split -b 100000 -d "$W/src/sub/numbers" "$W/part."
step "cat parts" sh -c 'cat "$1"/part.* >"$1/joined"' sh "$W"
step "cmp joined" cmp "$W/joined" "$W/src/sub/numbers"
step "touch old" touch -d "$STAMP" "$W/old"
step "touch new" touch -d "@1700000000" "$W/new"
show "find -newer" sh -c 'cd "$1" && find . -maxdepth 1 -type f -newer old |
	sort' sh "$W"
step "chmod -R" chmod -R go-rwx "$W/back"
step "rm -r" rm -r "$W/plain-copy" "$W/part.00"
step "times" find "$W" -exec touch -h -d "$STAMP" {} +
listing -t "$W"
finish
