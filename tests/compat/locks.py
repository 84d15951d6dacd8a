"""locks.py DIR - POSIX record locks (fcntl/lockf) and open file
description locks between processes on DIR.

Process A takes locks; process B probes them. They take turns through
pipes, so what is printed does not depend on timing. Exits 1 on an
unexpected exception (traceback on stderr).
"""
import errno
import fcntl
import os
import struct
import sys
import time

D = sys.argv[1]
F = os.path.join(D, "records")


def say(*what):
    print(*what, flush=True)


def attempt(fd, cmd, kind, start, length):
    try:
        fcntl.lockf(fd, kind | (fcntl.LOCK_NB if cmd == "nb" else 0),
                    length, start)
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]


def getlk(fd, start, length, holder):
    """F_GETLK for a write lock on [start, start+length): who conflicts."""
    fmt = "hhqqi"
    req = struct.pack(fmt, fcntl.F_WRLCK, os.SEEK_SET, start, length, 0)
    typ, _, s, n, pid = struct.unpack(fmt, fcntl.fcntl(fd, fcntl.F_GETLK,
                                                        req))
    if typ == fcntl.F_UNLCK:
        return "unlocked"
    name = {fcntl.F_WRLCK: "write", fcntl.F_RDLCK: "read"}[typ]
    return f"{name} [{s}, +{n}) by {'A' if pid == holder else pid}"


def main():
    with open(F, "wb") as f:
        f.write(b"x" * 4096)
    a_r, b_w = os.pipe()
    b_r, a_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # A: the holder
        os.close(a_r)
        os.close(a_w)
        fd = os.open(F, os.O_RDWR)
        fcntl.lockf(fd, fcntl.LOCK_EX, 100, 0)
        fcntl.lockf(fd, fcntl.LOCK_SH, 100, 200)
        os.write(b_w, b"1")
        os.read(b_r, 1)  # B probed
        fcntl.lockf(fd, fcntl.LOCK_UN, 50, 0)
        os.write(b_w, b"2")
        os.read(b_r, 1)  # B probed again
        other = os.open(F, os.O_RDONLY)
        os.close(other)  # POSIX: closing any fd drops all of A's locks
        os.write(b_w, b"3")
        os.read(b_r, 1)  # B holds [0, 10) now; A waits for it
        fcntl.lockf(fd, fcntl.LOCK_EX, 10, 0)
        os.write(b_w, b"4")
        os._exit(0)
    os.close(b_r)
    os.close(b_w)
    fd = os.open(F, os.O_RDWR)
    os.read(a_r, 1)
    say("B write [50,+10)", attempt(fd, "nb", fcntl.LOCK_EX, 50, 10))
    say("B write [100,+100)", attempt(fd, "nb", fcntl.LOCK_EX, 100, 100))
    say("B read [250,+10)", attempt(fd, "nb", fcntl.LOCK_SH, 250, 10))
    say("B write [250,+10)", attempt(fd, "nb", fcntl.LOCK_EX, 250, 10))
    say("B getlk [0,+1)", getlk(fd, 0, 1, pid))
    say("B getlk [210,+1)", getlk(fd, 210, 1, pid))
    say("B getlk [1000,+1)", getlk(fd, 1000, 1, pid))
    os.write(a_w, b"1")
    os.read(a_r, 1)
    say("B write [0,+50) after unlock", attempt(fd, "nb", fcntl.LOCK_EX, 0,
                                                50))
    say("B write [50,+1) still", attempt(fd, "nb", fcntl.LOCK_EX, 50, 1))
    os.write(a_w, b"2")
    os.read(a_r, 1)
    say("B write [50,+1) after A closed a fd", attempt(fd, "nb",
                                                       fcntl.LOCK_EX, 50, 1))
    say("B getlk [200,+1)", getlk(fd, 200, 1, pid))
    fcntl.lockf(fd, fcntl.LOCK_UN, 0, 0)
    fcntl.lockf(fd, fcntl.LOCK_EX, 10, 0)
    os.write(a_w, b"3")
    time.sleep(0.2)  # let A block in F_SETLKW: the unlock must wake it
    fcntl.lockf(fd, fcntl.LOCK_UN, 10, 0)
    say("A got the lock", os.read(a_r, 1) == b"4")
    _, status = os.waitpid(pid, 0)
    say("A exit", os.waitstatus_to_exitcode(status))

    # Open file description locks: two opens in one process conflict.
    fmt = "hhqqi"
    x = os.open(F, os.O_RDWR)
    y = os.open(F, os.O_RDWR)
    lk = struct.pack(fmt, fcntl.F_WRLCK, os.SEEK_SET, 0, 10, 0)
    fcntl.fcntl(x, fcntl.F_OFD_SETLK, lk)
    try:
        fcntl.fcntl(y, fcntl.F_OFD_SETLK, lk)
        say("OFD second open", "ok")
    except OSError as e:
        say("OFD second open", errno.errorcode[e.errno])
    os.close(x)
    fcntl.fcntl(y, fcntl.F_OFD_SETLK, lk)
    say("OFD after close of first", "ok")
    os.close(y)
    os.close(fd)


main()
