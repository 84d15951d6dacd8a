# rsync.sh - rsync -aHAX within WORK, out of it and into it, then the
# incremental cases: nothing to do, a changed file sent as a delta in
# place, a deleted file, a --backup and a --link-dest snapshot.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RS=(rsync -aHAX --numeric-ids)

# dirtime DIR TIME: set the mtime of every directory in DIR. After each
# change to src its directories get a new fixed time: whether two changes
# fall in one tick of the kernel's timestamp clock must not decide what
# rsync sees.
dirtime() {
	find "$1" -type d -exec touch -d "$2" {} +
}

step "make tree" make_tree "$W/src"
step "rsync within" "${RS[@]}" "$W/src/" "$W/copy/"
listing -t "$W/copy"
step "rsync out" "${RS[@]}" "$W/src/" "$O/out/"
listing -t "$O/out"
step "rsync in" "${RS[@]}" "$O/out/" "$W/in/"
listing -t "$W/in"
show "rsync again: nothing" "${RS[@]}" -i "$W/src/" "$W/copy/"
show "rsync checksum: nothing" "${RS[@]}" -c -i "$O/out/" "$W/in/"

# A changed file: rsync's delta algorithm, in place and through a temp.
step "change" sh -c 'sed -i -e "s/^1000$/one thousand/" "$1" &&
	touch -d @1600000100 "$1"' sh "$W/src/sub/numbers"
step "dirtime" dirtime "$W/src" @1600000100
show "rsync delta" "${RS[@]}" -i --no-whole-file "$W/src/" "$W/copy/"
step "change out" cp -p "$W/src/sub/numbers" "$O/out/sub/numbers"
show "rsync delta inplace" "${RS[@]}" -i --no-whole-file --inplace \
	"$O/out/" "$W/in/"
step "cmp in" cmp "$W/in/sub/numbers" "$W/src/sub/numbers"

# Deletions, backups, hard-linked snapshots.
step "remove" rm "$W/src/page" "$W/src/sub/rel-link"
step "dirtime" dirtime "$W/src" @1600000150
show "rsync --delete" "${RS[@]}" -i --delete "$W/src/" "$W/copy/"
step "change again" sh -c 'echo extra >>"$1" && touch -d @1600000200 "$1"' \
	sh "$W/src/hello.txt"
step "dirtime" dirtime "$W/src" @1600000200
show "rsync --backup" "${RS[@]}" -i --backup --suffix=.bak "$W/src/" \
	"$W/copy/"
show "rsync --link-dest" "${RS[@]}" -i --link-dest="$W/copy" "$W/src/" \
	"$W/snap/"
show "link counts" stat -c '%n %h' "$W/snap/sub/numbers" "$W/copy/sub/numbers"
listing -t "$W/copy"
listing -t "$W/snap"
finish
