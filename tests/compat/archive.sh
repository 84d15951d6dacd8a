# archive.sh - tar -c/-x with --xattrs (on WORK, out of it and into it),
# tar --compare, sparse and compressed archives; zip/unzip; gzip, bzip2,
# xz and zstd round trips.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# --xattrs needs the pax format; atime and ctime would make the archive
# depend on "now", so they are left out of its headers. Members go in name
# order: the order of directory entries differs from one filesystem (and
# one directory) to the next, here and on any disk.
TAR=(tar --xattrs --xattrs-include='user.*' --numeric-owner --sort=name
	--pax-option=delete=atime,delete=ctime)
export XZ_OPT=-0

step "make tree" make_tree "$W/src"
step "tar -c" "${TAR[@]}" -cf "$W/src.tar" -C "$W" src
show "tar -t" "${TAR[@]}" -tvf "$W/src.tar"
step "tar -d" "${TAR[@]}" -df "$W/src.tar" -C "$W"
step "mkdir x" mkdir "$W/x" "$O/x"
step "tar -x on W" "${TAR[@]}" -xpf "$W/src.tar" -C "$W/x"
listing -t "$W/x"
step "tar -x out" "${TAR[@]}" -xpf "$W/src.tar" -C "$O/x"
listing -t "$O/x"
step "tar -c from O" "${TAR[@]}" -cf "$O/o.tar" -C "$O/x" src
step "tar -x in" "${TAR[@]}" -xpf "$O/o.tar" -C "$W/x" --transform 's/^src/in/'
listing -t "$W/x/in"
step "tar -d in" "${TAR[@]}" -df "$O/o.tar" -C "$W/x" \
	--transform 's/^src/in/'
step "tar over existing" "${TAR[@]}" -xpf "$W/src.tar" -C "$W/x"
step "edit" sh -c 'echo changed >>"$1"' sh "$W/x/src/hello.txt"
xstep "tar -d sees edit" 1 "${TAR[@]}" -df "$W/src.tar" -C "$W/x"

# Compressed and sparse archives, appending, extracting one member.
step "tar -cz" tar -czf "$W/src.tgz" --sort=name -C "$W" src
step "tar -cJ" tar --sort=name -cJf "$W/src.txz" -C "$W" src
step "tar -c --sparse" tar -cSf "$W/sparse.tar" -C "$W/src" sparse
step "tar -r" tar -rf "$W/sparse.tar" -C "$W/src" hello.txt
show "tar -t sparse" tar -tvf "$W/sparse.tar"
step "mkdir y" mkdir "$W/y"
step "tar -xz" tar -xzf "$W/src.tgz" -C "$W/y"
step "tar -xJ member" tar -xJf "$W/src.txz" -C "$W/y" src/sub/numbers
step "tar -x sparse" tar -xSf "$W/sparse.tar" -C "$W/y"
listing -t "$W/y"
step "tar to stdout" sh -c 'mkdir "$2" &&
	tar -cf - -C "$1" src | tar -xf - -C "$2"' sh "$W" "$W/y/piped"
step "diff piped" diff -r --no-dereference "$W/src" "$W/y/piped/src"

# zip/unzip: symlinks kept (-y), times and modes restored. The members
# are given in name order (as for tar above).
step "zip" sh -c 'cd "$1" && find src | sort | zip -q -y -X src.zip -@' sh "$W"
show "unzip -l" sh -c 'unzip -l "$1" | sed -e "s/  *$//"' sh "$W/src.zip"
step "unzip -t" unzip -tq "$W/src.zip"
step "unzip" unzip -q "$W/src.zip" -d "$W/z"
listing -t "$W/z"
step "zip update" sh -c 'cd "$1" && echo more >>src/hello.txt &&
	touch -d @1600000100 src/hello.txt && zip -q -u src.zip src/hello.txt &&
	zip -q -d src.zip src/page' sh "$W"
step "unzip -o" unzip -q -o "$W/src.zip" -d "$W/z"
show "unzip -p" unzip -p "$W/src.zip" src/hello.txt
step "unzip out" unzip -q "$W/src.zip" -d "$O/z"
step "zip -r from O" sh -c 'cd "$1" && zip -q -r -y -X "$2/o.zip" z' sh "$O" "$W"
step "unzip in" unzip -q "$W/o.zip" -d "$W/zin"
step "diff zin" diff -r --no-dereference "$O/z" "$W/zin/z"
# (o.zip's member order is $O's directory order: not comparable.)
step "rm o.zip" rm "$W/o.zip"

# Single-file compressors: they write a new file, copy mode and times,
# then unlink the input.
step "small" sh -c 'seq 1 50000 >"$1" && touch -d "$2" "$1"' sh "$W/small" \
	"$STAMP"
for c in gzip bzip2 xz "zstd --rm"; do
	n=${c%% *}
	step "$n copy" cp -p "$W/small" "$W/$n.data"
	step "$n" $c -q "$W/$n.data"
	check "$n removed input" test ! -e "$W/$n.data"
	step "$n -t" $c -q -t "$W/$n.data".*
	step "$n -d" $c -q -d "$W/$n.data".*
	step "$n cmp" cmp "$W/$n.data" "$W/small"
done
step "gzip -k -9" gzip -k -9 -n "$W/src/sub/numbers"
show "gzip -l" gzip -l "$W/src/sub/numbers.gz"
show "zcat | sha" sh -c 'zcat "$1" | sha256sum' sh "$W/src/sub/numbers.gz"
step "gzip -c append" sh -c 'gzip -c -n "$1" >>"$2"' sh "$W/src/hello.txt" \
	"$W/src/sub/numbers.gz"
show "zcat both" sh -c 'zcat "$1" | tail -n 2' sh "$W/src/sub/numbers.gz"
step "stamp" find "$W" -newer "$W/src/sub/script.sh" \
	-exec touch -h -d "$STAMP" {} +
listing -t "$W"
finish
