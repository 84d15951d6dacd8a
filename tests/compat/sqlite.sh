# sqlite.sh - the sqlite3 CLI and Python's sqlite3 module (Debian's
# python3) on WORK: journals, WAL, several connections and processes,
# reopen after close, read-only opens.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DB=$W/cli.db
SQ=(sqlite3 -batch -bail)

step "create" "${SQ[@]}" "$DB" "CREATE TABLE kv(k INTEGER PRIMARY KEY, v);
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n
	WHERE i < 5000) INSERT INTO kv SELECT i, printf('value %d', i) FROM n;"
show "reopen" "${SQ[@]}" "$DB" "SELECT count(*), sum(k) FROM kv;
	PRAGMA integrity_check;"
show "update" "${SQ[@]}" "$DB" "UPDATE kv SET v = upper(v) WHERE k % 7 = 0;
	SELECT v FROM kv WHERE k = 4998;"
show "-readonly read" "${SQ[@]}" -readonly "$DB" "SELECT count(*) FROM kv;"
xstep "-readonly write" 8 "${SQ[@]}" -readonly "$DB" "DELETE FROM kv;"
show "uri mode=ro" "${SQ[@]}" "file:$DB?mode=ro" "SELECT max(k) FROM kv;"
xstep "uri mode=ro write" 8 "${SQ[@]}" "file:$DB?mode=ro" "DELETE FROM kv;"
step "dump" sh -c 'sqlite3 "$1" .dump >"$2"' sh "$DB" "$W/dump.sql"
step "restore dump" sh -c 'sqlite3 -bail "$1" <"$2"' sh "$W/copy.db" \
	"$W/dump.sql"
show "same content" "${SQ[@]}" "$W/copy.db" "ATTACH '$DB' AS o;
	SELECT count(*) FROM (SELECT * FROM kv EXCEPT SELECT * FROM o.kv);"
step ".backup" "${SQ[@]}" "$DB" ".backup '$W/backup.db'"
show ".restore" "${SQ[@]}" "$W/restored.db" ".restore '$W/backup.db'" \
	"SELECT count(*) FROM kv;"
step "VACUUM" "${SQ[@]}" "$DB" "VACUUM;"
show "WAL" "${SQ[@]}" "$DB" "PRAGMA journal_mode=WAL; INSERT INTO kv(v)
	VALUES ('wal row'); SELECT count(*) FROM kv;"

# Two sqlite3 processes: one holds a write transaction open (fed
# through a FIFO), the other reads the last committed state and is
# refused a write; after the COMMIT it sees the new row.
step "mkfifo" mkfifo "$O/feed"
sqlite3 -batch "$DB" <"$O/feed" >"$O/holder.out" 2>&1 &
holder=$!
exec 3>"$O/feed"
echo "BEGIN IMMEDIATE; INSERT INTO kv(v) VALUES ('pending');
	SELECT 'holding';" >&3
for _ in $(seq 500); do
	grep -q holding "$O/holder.out" && break
	sleep 0.02
done
show "holder" cat "$O/holder.out"
show "read while held" "${SQ[@]}" "$DB" "SELECT count(*) FROM kv;"
xstep "write while held" 5 "${SQ[@]}" "$DB" "INSERT INTO kv(v) VALUES ('x');"
echo "COMMIT;" >&3
exec 3>&-
step "holder exits" wait "$holder"
show "read after commit" "${SQ[@]}" "$DB" "SELECT count(*), max(v) FROM kv
	WHERE v LIKE 'p%';"
show "back to delete" "${SQ[@]}" "$DB" "PRAGMA journal_mode=DELETE;"
show "journal files" sh -c 'cd "$1" && ls' sh "$W"

# Python's sqlite3 module: see sqlite_procs.py.
step "mkdir py" mkdir "$W/py"
show "python sqlite3" "$PY" "$HERE/sqlite_procs.py" "$W/py"
show "python files" sh -c 'cd "$1" && ls' sh "$W/py"
finish
