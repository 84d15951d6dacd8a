# attrs.sh - file attributes beyond mode and times: inode flags with
# chattr/lsattr (e2fsprogs), POSIX ACLs with setfacl/getfacl and the
# programs that carry them (cp -a, tar --acls, rsync -A), and the
# fallocate(1) modes a FUSE filesystem can serve (allocate, punch a hole,
# zero a range; the kernel's FUSE refuses collapse and insert ranges
# before the daemon sees them, see README "Compatibility").
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Inode flags: immutable, then no-dump; on a file and a directory.
# (Append-only is the one flag the mount refuses, see README
# "Compatibility"; tests/fuse/test_posix.c checks that refusal.)
step "file" sh -c 'echo one >"$1"' sh "$W/flags"
step "mkdir" mkdir "$W/flagdir"
step "chattr +i" chattr +i "$W/flags"
show "lsattr" sh -c 'lsattr "$1" | cut -d" " -f1' sh "$W/flags"
xstep "append refused" 2 sh -c 'echo two >>"$1"' sh "$W/flags"
xstep "overwrite refused" 2 sh -c 'echo three >"$1"' sh "$W/flags"
xstep "rm refused" 1 rm -f "$W/flags"
step "chattr -i" chattr -i "$W/flags"
step "append" sh -c 'echo two >>"$1"' sh "$W/flags"
step "chattr +d dir" chattr +d "$W/flagdir"
show "lsattr -d" sh -c 'lsattr -d "$1" | cut -d" " -f1' sh "$W/flagdir"
show "contents" cat "$W/flags"

# POSIX ACLs: set on WORK, read back, inherited from a default ACL;
# a file with an ACL made outside carried in by cp -a, tar --acls and
# rsync -A.
GF=(getfacl -c -p)
step "acl file" sh -c 'echo private >"$1" && chmod 0600 "$1"' sh "$W/acl"
step "setfacl" setfacl -m u:4242:r "$W/acl"
show "getfacl" "${GF[@]}" "$W/acl"
step "default acl" sh -c 'mkdir "$1" && setfacl -d -m u:4242:rwx "$1" &&
	touch "$1/inherits"' sh "$W/acldir"
show "inherited" "${GF[@]}" "$W/acldir/inherits"
step "acl outside" sh -c 'echo outside >"$1" && chmod 0640 "$1" &&
	setfacl -m u:4242:rw,g:4343:r "$1"' sh "$O/acl-src"
step "cp -a in" cp -a "$O/acl-src" "$W/acl-cp"
show "getfacl cp" "${GF[@]}" "$W/acl-cp"
step "tar --acls" tar --acls -cf "$O/acl.tar" -C "$O" acl-src
step "tar -x --acls" sh -c 'mkdir "$1" && tar --acls -xf "$2" -C "$1"' sh \
	"$W/untar" "$O/acl.tar"
show "getfacl untar" "${GF[@]}" "$W/untar/acl-src"
step "rsync -A" rsync -aA "$O/acl-src" "$W/acl-rsync"
show "getfacl rsync" "${GF[@]}" "$W/acl-rsync"
step "cp -a out" cp -a "$W/acl-cp" "$O/acl-back"
show "getfacl out" "${GF[@]}" "$O/acl-back"

# fallocate: allocate, keep size, punch a hole, zero a range.
step "fallocate" fallocate -l 1M "$W/fa"
step "fallocate -n" fallocate -n -o 1M -l 1M "$W/fa"
step "fill" sh -c 'seq 1 100000 | dd of="$1" conv=notrunc status=none' sh \
	"$W/fa"
step "punch" fallocate -p -o 4096 -l 8192 "$W/fa"
step "zero" fallocate -z -o 65536 -l 4096 "$W/fa"
step "dig" fallocate -d "$W/fa"
listing "$W"
finish
