# git.sh - git on WORK: init, commits, branches and a merge, gc, repack,
# clones (local with hard links, --no-local, out of WORK and into it),
# fsck, worktree. Names and dates are fixed, so every object id is too.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=Compat GIT_AUTHOR_EMAIL=compat@example.invalid
export GIT_COMMITTER_NAME=Compat GIT_COMMITTER_EMAIL=compat@example.invalid
export GIT_AUTHOR_DATE="1600000000 +0000" GIT_COMMITTER_DATE="1600000000 +0000"
# Settings for every git below (also those run through sh -c).
export GIT_CONFIG_COUNT=3 GIT_CONFIG_KEY_0=init.defaultBranch \
	GIT_CONFIG_VALUE_0=main GIT_CONFIG_KEY_1=gc.auto GIT_CONFIG_VALUE_1=0 \
	GIT_CONFIG_KEY_2=core.fsync GIT_CONFIG_VALUE_2=all
G=(git)
R=$W/repo

step "init" "${G[@]}" init -q "$R"
step "make tree" make_tree "$R/tree"
step "add" "${G[@]}" -C "$R" add -A
step "commit" "${G[@]}" -C "$R" commit -q -m "first"
for i in 1 2 3; do
	step "commit $i" sh -c 'seq "$2" 2000 >>"$1/tree/sub/numbers" &&
		git -C "$1" commit -q -a -m "more $2"' sh "$R" "$i"
done
step "branch" "${G[@]}" -C "$R" switch -q -c side
step "side commit" sh -c 'echo side >"$1/side.txt" && git -C "$1" add side.txt &&
	git -C "$1" commit -q -m side' sh "$R"
step "switch main" "${G[@]}" -C "$R" switch -q main
step "main commit" sh -c 'echo main >"$1/main.txt" && git -C "$1" add main.txt &&
	git -C "$1" commit -q -m main' sh "$R"
step "merge" "${G[@]}" -C "$R" merge -q --no-edit side
show "log" "${G[@]}" -C "$R" log --format='%H %s' --graph
show "status" "${G[@]}" -C "$R" status --porcelain=v2 --branch
step "edit" sh -c 'echo dirty >>"$1/tree/hello.txt" && rm "$1/tree/page"' \
	sh "$R"
show "status dirty" "${G[@]}" -C "$R" status --porcelain
show "diff --stat" "${G[@]}" -C "$R" diff --stat
step "restore" "${G[@]}" -C "$R" restore tree
show "status clean" "${G[@]}" -C "$R" status --porcelain
show "count-objects" sh -c 'git -C "$1" count-objects -v | grep -v size' \
	sh "$R"
step "gc" "${G[@]}" -C "$R" gc -q --prune=now
step "repack" "${G[@]}" -C "$R" repack -q -a -d -f --depth=10 --window=10
step "fsck" "${G[@]}" -C "$R" fsck --full --strict --no-progress
show "packed objects" sh -c 'git -C "$1" count-objects -v |
	grep -e "^count" -e "^in-pack" -e "^packs"' sh "$R"
show "verify-pack" sh -c 'git -C "$1" verify-pack "$1"/.git/objects/pack/*.idx &&
	echo verified' sh "$R"

# Clones: hard-linked local, --no-local (pack over the transport), out
# of WORK and back into it, and a bare one pushed to.
step "clone local" "${G[@]}" clone -q "$R" "$W/c1"
step "clone --no-local" "${G[@]}" clone -q --no-local "$R" "$W/c2"
step "clone out" "${G[@]}" clone -q "$R" "$O/c3"
step "clone in" "${G[@]}" clone -q --no-local "$O/c3" "$W/c4"
step "clone bare" "${G[@]}" clone -q --bare "$R" "$W/bare.git"
for c in c1 c4; do
	show "$c head" "${G[@]}" -C "$W/$c" rev-parse HEAD HEAD^{tree}
	step "$c fsck" "${G[@]}" -C "$W/$c" fsck --full --strict --no-progress
	show "$c status" "${G[@]}" -C "$W/$c" status --porcelain
done
step "push" sh -c 'cd "$1" && echo pushed >p.txt && git add p.txt &&
	git commit -q -m push && git push -q "$2" main' sh "$W/c2" "$W/bare.git"
show "bare head" "${G[@]}" -C "$W/bare.git" log --format='%H %s' -1 main
step "bare fsck" "${G[@]}" -C "$W/bare.git" fsck --full --strict --no-progress
step "fetch" "${G[@]}" -C "$W/c1" fetch -q "$W/c2" main
show "fetched" "${G[@]}" -C "$W/c1" log --format=%s -1 FETCH_HEAD
step "worktree" "${G[@]}" -C "$R" worktree add -q "$W/wt" side
show "worktree list" sh -c 'git -C "$1" worktree list --porcelain |
	grep -v "^HEAD"' sh "$R"
step "fsck after all" "${G[@]}" -C "$R" fsck --full --strict --no-progress
step "stamp" find "$W/c1" -path "$W/c1/.git" -prune -o \
	-exec touch -h -d "$STAMP" {} +
listing -t "$W/c1/tree"
finish
