"""listing.py [-t] DIR - the tree below DIR, one entry a line, sorted.

Each line: the path relative to DIR, the type, the permission bits (octal)
and uid:gid; for regular files the size, link count and the first 16 hex
digits of the SHA-256 of the contents; for symlinks the target; with -t
the mtime (see when()). Then the user.* extended attributes, sorted,
one a line, value in hex. Used by lib.sh's listing; nothing in it depends
on inode numbers, block counts or the order of directory entries.
"""
import hashlib
import os
import stat
import sys
import time

KINDS = [(stat.S_ISDIR, "dir"), (stat.S_ISREG, "file"), (stat.S_ISLNK, "link"),
         (stat.S_ISFIFO, "fifo"), (stat.S_ISSOCK, "socket"),
         (stat.S_ISCHR, "chr"), (stat.S_ISBLK, "blk")]


def kind(mode):
    return next(name for test, name in KINDS if test(mode))


STAMP = 1600000000  # lib.sh's STAMP
NOW = time.time()


def when(t):
    """A time as "stamp" (lib.sh's STAMP), "now" (this last hour: set by
    the system, not the scenario) or whole seconds since the epoch."""
    if int(t) == STAMP:
        return "stamp"
    if abs(t - NOW) < 3600:
        return "now"
    return str(int(t))


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def describe(top, rel, times):
    path = os.path.join(top, rel)
    st = os.lstat(path)
    k = kind(st.st_mode)
    line = f"{rel} {k} {stat.S_IMODE(st.st_mode):o} {st.st_uid}:{st.st_gid}"
    if k == "file":
        line += f" {st.st_size} {st.st_nlink} {digest(path)}"
    elif k == "link":
        line += " -> " + os.readlink(path)
    if times:
        line += " " + when(st.st_mtime)
    out = [line]
    if k != "link":
        names = sorted(n for n in os.listxattr(path, follow_symlinks=False)
                       if n.startswith("user."))
        for n in names:
            v = os.getxattr(path, n, follow_symlinks=False)
            out.append(f"    {n}=0x{v.hex()}")
    return out


def main():
    args = sys.argv[1:]
    times = bool(args) and args[0] == "-t"
    if times:
        args = args[1:]
    if len(args) != 1:
        sys.exit("usage: listing.py [-t] DIR")
    top = args[0]
    rels = []
    for root, dirs, files in os.walk(top):
        for n in dirs + files:
            rels.append(os.path.relpath(os.path.join(root, n), top))
    for rel in sorted(rels, key=os.fsencode):
        print("\n".join(describe(top, rel, times)))


main()
