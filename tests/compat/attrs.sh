# attrs.sh - file attributes beyond mode and times: inode flags with
# chattr/lsattr (e2fsprogs), POSIX ACLs with setfacl/getfacl and the
# programs that carry them (cp -a, tar --acls, rsync -A), and the
# fallocate(1) modes a FUSE filesystem can serve (allocate, punch a hole,
# zero a range; the kernel's FUSE refuses collapse and insert ranges
# before the daemon sees them, see README "Compatibility").
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Inode flags: append-only, then no-dump; on a file and a directory.
step "file" sh -c 'echo one >"$1"' sh "$W/flags"
step "mkdir" mkdir "$W/flagdir"
step "chattr +a" chattr +a "$W/flags"
show "lsattr" sh -c 'lsattr "$1" | cut -d" " -f1' sh "$W/flags"
step "append" sh -c 'echo two >>"$1"' sh "$W/flags"
xstep "overwrite refused" 2 sh -c 'echo three >"$1"' sh "$W/flags"
step "chattr -a" chattr -a "$W/flags"
step "chattr +d dir" chattr +d "$W/flagdir"
show "lsattr -d" sh -c 'lsattr -d "$1" | cut -d" " -f1' sh "$W/flagdir"
show "contents" cat "$W/flags"

# POSIX ACLs: set, read back, inherited from a default ACL, carried by
# cp -a, tar --acls and rsync -A, into WORK and out of it.
step "acl file" sh -c 'echo private >"$1" && chmod 0600 "$1"' sh "$W/acl"
step "setfacl" setfacl -m u:4242:r "$W/acl"
show "getfacl" getfacl -c "$W/acl"
step "default acl" sh -c 'mkdir "$1" && setfacl -d -m u:4242:rwx "$1" &&
	touch "$1/inherits"' sh "$W/acldir"
show "inherited" getfacl -c "$W/acldir/inherits"
step "cp -a out" cp -a "$W/acl" "$O/acl-out"
show "getfacl out" getfacl -c "$O/acl-out"
step "cp -a in" cp -a "$O/acl-out" "$W/acl-in"
show "getfacl in" getfacl -c "$W/acl-in"
step "tar --acls" tar --acls -cf "$O/acl.tar" -C "$W" acl acldir
step "tar -x --acls" sh -c 'mkdir "$1" && tar --acls -xf "$2" -C "$1"' sh \
	"$W/untar" "$O/acl.tar"
show "getfacl untar" getfacl -c -R "$W/untar"
step "rsync -A" rsync -aA "$O/acl-out" "$W/acl-rsync"
show "getfacl rsync" getfacl -c "$W/acl-rsync"

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
