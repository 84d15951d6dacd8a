"""mmap_procs.py DIR - shared mappings written by several processes on DIR.

Writers store through MAP_SHARED mappings; other processes see the bytes
through read() and through their own mappings, before and after msync;
MAP_PRIVATE stores stay private; a file grown with ftruncate is mapped
and written at its end; a store beyond EOF raises SIGBUS. Processes take
turns through pipes. Prints one line per observation; exits 1 on an
unexpected exception.
"""
import hashlib
import mmap
import os
import signal
import sys

D = sys.argv[1]
F = os.path.join(D, "mapped")
PAGE = mmap.PAGESIZE
SIZE = 64 * PAGE


def say(*what):
    print(*what, flush=True)


def pread(off, n):
    fd = os.open(F, os.O_RDONLY)
    try:
        return os.pread(fd, n, off)
    finally:
        os.close(fd)


def digest():
    with open(F, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def fork(fn):
    r, w = os.pipe()
    r2, w2 = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.close(w2)
        code = 0
        try:
            fn(r2, w)
        except BaseException:
            import traceback
            traceback.print_exc()
            code = 1
        os._exit(code)
    os.close(w)
    os.close(r2)
    return pid, w2, r


def wait(pid):
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return signal.Signals(os.WTERMSIG(status)).name
    return f"exit {os.WEXITSTATUS(status)}"


def main():
    with open(F, "wb") as f:
        f.truncate(SIZE)

    # Two writer processes, each storing into its own half; the parent
    # maps the file too and reads with read().
    def writer(half):
        def run(rfd, wfd):
            fd = os.open(F, os.O_RDWR)
            m = mmap.mmap(fd, SIZE, mmap.MAP_SHARED)
            base = half * SIZE // 2
            for p in range(SIZE // 2 // PAGE):
                m[base + p * PAGE:base + p * PAGE + 8] = \
                    f"w{half}p{p:05d}".encode()[:8]
            os.write(wfd, b"stored")
            os.read(rfd, 1)
            m.flush()
            os.write(wfd, b"synced")
            os.read(rfd, 1)
            m.close()
            os.close(fd)
        return run

    fd = os.open(F, os.O_RDWR)
    view = mmap.mmap(fd, SIZE, mmap.MAP_SHARED)
    kids = [fork(writer(h)) for h in (0, 1)]
    for i, (_, _, fr) in enumerate(kids):
        say(f"writer {i}", os.read(fr, 6).decode())
    say("own mapping sees stores", bytes(view[0:8]),
        bytes(view[SIZE // 2 + PAGE:SIZE // 2 + PAGE + 8]))
    say("read() sees stores", pread(0, 8), pread(SIZE - PAGE, 8))
    for i, (_, to, fr) in enumerate(kids):
        os.write(to, b"s")
        say(f"writer {i}", os.read(fr, 6).decode())
    say("read() after msync", pread(PAGE, 8), pread(SIZE // 2, 8))
    for i, (pid, to, _) in enumerate(kids):
        os.write(to, b"q")
        say(f"writer {i}", wait(pid))
    say("file after writers", os.path.getsize(F), digest())

    # write() is seen through the mapping at once.
    os.pwrite(fd, b"pwritten", 3 * PAGE)
    say("mapping sees pwrite", bytes(view[3 * PAGE:3 * PAGE + 8]))

    # MAP_PRIVATE: copy on write, the file keeps its bytes.
    priv = mmap.mmap(fd, SIZE, mmap.MAP_PRIVATE)
    priv[0:8] = b"private!"
    say("private store", bytes(priv[0:8]), "file", pread(0, 8))
    priv.close()

    # Grow with ftruncate, remap, store at the new end.
    view.close()
    os.ftruncate(fd, SIZE + 3 * PAGE + 100)
    big = mmap.mmap(fd, SIZE + 3 * PAGE + 100, mmap.MAP_SHARED)
    big[SIZE + 3 * PAGE:SIZE + 3 * PAGE + 100] = b"e" * 100
    big.flush()
    big.close()
    say("grown", os.path.getsize(F), pread(SIZE + 3 * PAGE + 96, 8))

    # A store into a page wholly beyond EOF: SIGBUS in a child.
    def beyond(rfd, wfd):
        os.ftruncate(fd, SIZE + 8 * PAGE)
        m = mmap.mmap(fd, SIZE + 8 * PAGE, mmap.MAP_SHARED)
        os.ftruncate(fd, SIZE)
        m[SIZE + 5 * PAGE] = 1
        os.write(wfd, b"no fault")

    pid, _, _ = fork(beyond)
    say("store beyond EOF", wait(pid))
    say("size after", os.path.getsize(F))
    os.fsync(fd)
    os.close(fd)
    say("final", digest())


main()
