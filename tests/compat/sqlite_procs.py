"""sqlite_procs.py DIR - Python's sqlite3 on DIR: several connections,
rollback journals and WAL, a writer and readers in separate processes,
reopen after close, mode=ro, a hot journal left by a killed writer.

Prints one line per observation; nothing in it depends on timing (the
processes hand each other the turn through pipes), so the lines must be
the same on any filesystem that behaves as a local disk. Exits 1 on an
unexpected exception (its traceback on stderr).
"""
import os
import sqlite3
import sys

D = sys.argv[1]


def path(name):
    return os.path.join(D, name)


def say(*what):
    print(*what, flush=True)


def connect(name, **kw):
    kw.setdefault("timeout", 0)
    kw.setdefault("isolation_level", None)  # explicit BEGIN/COMMIT
    return sqlite3.connect(path(name), **kw)


def error_of(fn):
    try:
        fn()
        return "ok"
    except sqlite3.Error as e:
        return f"{type(e).__name__}: {e}"


def count(con, table="t"):
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def count_or_error(con):
    try:
        return str(count(con))
    except sqlite3.Error as e:
        return f"{type(e).__name__}: {e}"


def exists(name):
    return "exists" if os.path.exists(path(name)) else "absent"


def rollback_journal(mode):
    name = f"rj-{mode}.db"
    a = connect(name)
    say(mode, "journal_mode", a.execute(f"PRAGMA journal_mode={mode}")
        .fetchone()[0])
    a.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
    a.execute("BEGIN")
    a.executemany("INSERT INTO t(v) VALUES (?)",
                  ((f"row {i}" * 10,) for i in range(2000)))
    say(mode, "journal during write", exists(name + "-journal"))
    a.execute("COMMIT")
    b = connect(name)
    a.execute("BEGIN IMMEDIATE")
    a.execute("INSERT INTO t(v) VALUES ('more')")
    say(mode, "second writer", error_of(
        lambda: b.execute("INSERT INTO t(v) VALUES ('b')")))
    say(mode, "reader during write", count(b))
    a.execute("COMMIT")
    say(mode, "reader after commit", count(b))
    a.close()
    b.close()
    c = connect(name)
    say(mode, "reopened", count(c), c.execute("PRAGMA integrity_check")
        .fetchone()[0])
    c.close()


def child(fn):
    """Run fn(rfd, wfd) in a child process; returns (pid, to_child,
    from_child) pipe ends for the parent."""
    p_r, c_w = os.pipe()
    c_r, p_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(p_r)
        os.close(p_w)
        code = 0
        try:
            fn(c_r, c_w)
        except BaseException:
            import traceback
            traceback.print_exc()
            code = 1
        os._exit(code)
    os.close(c_r)
    os.close(c_w)
    return pid, p_w, p_r


def send(fd, msg):
    os.write(fd, (msg + "\n").encode())


def recv(fd):
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = os.read(fd, 1)
        if not chunk:
            raise EOFError("peer went away")
        buf += chunk
    return buf.decode().rstrip("\n")


def reap(pid, what):
    _, status = os.waitpid(pid, 0)
    say(what, "exit", os.waitstatus_to_exitcode(status))


def across_processes():
    """Rollback journal: a writer process holds the database exclusively;
    a reader process is refused, then reads after the commit."""
    name = "procs.db"
    con = connect(name)
    con.execute("CREATE TABLE t(v)")
    con.execute("INSERT INTO t VALUES (1)")
    con.close()

    def writer(rfd, wfd):
        w = connect(name)
        w.execute("BEGIN EXCLUSIVE")
        w.execute("INSERT INTO t VALUES (2)")
        send(wfd, "locked")
        recv(rfd)
        w.execute("COMMIT")
        w.close()
        send(wfd, "committed")

    def reader(rfd, wfd):
        r = connect(name)
        while True:
            cmd = recv(rfd)
            if cmd == "quit":
                break
            send(wfd, count_or_error(r))
        r.close()

    wpid, w_to, w_from = child(writer)
    rpid, r_to, r_from = child(reader)
    say("procs writer", recv(w_from))
    send(r_to, "read")
    say("procs reader while locked", recv(r_from))
    send(w_to, "commit")
    say("procs writer", recv(w_from))
    send(r_to, "read")
    say("procs reader after commit", recv(r_from))
    send(r_to, "quit")
    reap(wpid, "procs writer")
    reap(rpid, "procs reader")


def wal():
    """WAL: one writer process, three reader processes holding read
    transactions (snapshots) while the writer commits."""
    name = "wal.db"
    con = connect(name)
    say("wal journal_mode", con.execute("PRAGMA journal_mode=wal")
        .fetchone()[0])
    con.execute("CREATE TABLE t(v)")
    con.execute("INSERT INTO t VALUES (0)")
    say("wal files", exists(name + "-wal"), exists(name + "-shm"))

    def reader(rfd, wfd):
        r = connect(name)
        r.execute("BEGIN")
        send(wfd, f"snapshot {count(r)}")
        recv(rfd)  # the writer has committed meanwhile
        send(wfd, f"same snapshot {count(r)}")
        r.execute("COMMIT")
        send(wfd, f"new snapshot {count(r)}")
        r.close()

    def writer(rfd, wfd):
        w = connect(name)
        recv(rfd)
        for i in range(1, 101):
            w.execute("INSERT INTO t VALUES (?)", (i,))
        send(wfd, f"wrote {count(w)}")
        w.close()

    readers = [child(reader) for _ in range(3)]
    wpid, w_to, w_from = child(writer)
    for i, (_, _, fr) in enumerate(readers):
        say(f"wal reader {i}", recv(fr))
    send(w_to, "go")
    say("wal writer", recv(w_from))
    for i, (_, to, fr) in enumerate(readers):
        send(to, "again")
        say(f"wal reader {i}", recv(fr))
        say(f"wal reader {i}", recv(fr))
    reap(wpid, "wal writer")
    for i, (pid, _, _) in enumerate(readers):
        reap(pid, f"wal reader {i}")
    say("wal checkpoint", con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetchone())
    say("wal size after checkpoint", os.path.getsize(path(name + "-wal")))
    con.close()
    say("wal files after close", exists(name + "-wal"), exists(name + "-shm"))
    c = connect(name)
    say("wal reopened", count(c), c.execute("PRAGMA journal_mode")
        .fetchone()[0])
    c.close()


def read_only():
    uri = f"file:{path('rj-delete.db')}?mode=ro"
    ro = sqlite3.connect(uri, uri=True, isolation_level=None)
    say("mode=ro read", count(ro))
    say("mode=ro write", error_of(
        lambda: ro.execute("INSERT INTO t(v) VALUES ('x')")))
    ro.close()
    wal_ro = sqlite3.connect(f"file:{path('wal.db')}?mode=ro", uri=True)
    say("mode=ro wal read", count(wal_ro))
    wal_ro.close()
    say("mode=ro missing", error_of(lambda: sqlite3.connect(
        f"file:{path('missing.db')}?mode=ro", uri=True)))


def hot_journal():
    """A writer killed in the middle of a big transaction leaves a hot
    journal; the next open rolls it back."""
    name = "hot.db"
    con = connect(name)
    con.execute("PRAGMA cache_size=10")  # spill pages into the database
    con.execute("CREATE TABLE t(v)")
    con.execute("INSERT INTO t VALUES (zeroblob(1000))")
    con.close()

    def killed(rfd, wfd):
        w = connect(name)
        w.execute("PRAGMA cache_size=10")
        w.execute("BEGIN")
        for _ in range(2000):
            w.execute("INSERT INTO t VALUES (zeroblob(1000))")
        send(wfd, "spilled")
        recv(rfd)

    pid, to, fr = child(killed)
    say("hot writer", recv(fr))
    say("hot journal", exists(name + "-journal"))
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    c = connect(name)
    say("hot recovered", count(c), c.execute("PRAGMA integrity_check")
        .fetchone()[0])
    c.close()
    say("hot journal after recovery", exists(name + "-journal"))


def copies():
    src = connect("rj-delete.db")
    dst = sqlite3.connect(path("backup.db"))
    src.backup(dst)
    say("backup", count(dst))
    dst.close()
    src.execute(f"VACUUM INTO '{path('vacuumed.db')}'")
    src.execute("VACUUM")
    src.close()
    v = connect("vacuumed.db")
    say("vacuum into", count(v), v.execute("PRAGMA integrity_check")
        .fetchone()[0])
    v.close()


for mode in ("delete", "truncate", "persist"):
    rollback_journal(mode)
across_processes()
wal()
read_only()
hot_journal()
copies()
