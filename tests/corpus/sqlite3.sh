#!/usr/bin/env bash
# tests/corpus/sqlite3.sh - the sqlite3 shell: 200,000 rows (a database of
# about 100 MB, larger than the 64M limit) inserted and indexed with
# PRAGMA mmap_size large enough to map the whole database (sqlite then
# reads pages through a shared file mapping), aggregate queries, a
# self-join, updates, deletes, an integrity check, VACUUM, and a second
# process reading the same file through mmap.  Prints query results.
# needs: sqlite3
set -euo pipefail
sqlite3 test.db <<'SQL'
PRAGMA mmap_size = 1073741824;
PRAGMA journal_mode = DELETE;
PRAGMA cache_size = -16000;
CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, val REAL, pad BLOB);
BEGIN;
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 200000)
INSERT INTO t SELECT i, i % 97, 'name' || (i * 7919 % 200003), (i * 31 % 1000) / 10.0,
	zeroblob(300 + i % 400) FROM c;
COMMIT;
CREATE INDEX t_grp ON t(grp, val);
CREATE INDEX t_name ON t(name);
SELECT count(*), sum(grp), printf('%.2f', avg(val)), min(name), max(name), sum(length(pad)) FROM t;
SELECT grp, count(*), printf('%.1f', sum(val)) FROM t GROUP BY grp ORDER BY sum(val) DESC, grp LIMIT 5;
SELECT count(*) FROM t WHERE grp = 13 AND val > 50;
SELECT name FROM t WHERE name LIKE 'name1999%' ORDER BY name LIMIT 3;
SELECT count(DISTINCT name), count(DISTINCT val) FROM t;
SELECT a.grp, count(*) FROM t a JOIN t b ON a.id = b.id + 1 AND a.grp = b.grp + 1 GROUP BY a.grp ORDER BY 2 DESC, 1 LIMIT 3;
UPDATE t SET val = val + 1 WHERE grp < 10;
DELETE FROM t WHERE id % 10 = 0;
SELECT count(*), printf('%.2f', sum(val)) FROM t;
PRAGMA integrity_check;
SQL
sqlite3 test.db 'PRAGMA mmap_size = 1073741824; SELECT count(*), sum(id), max(name) FROM t; PRAGMA integrity_check;'
sqlite3 test.db 'VACUUM;'
sqlite3 test.db 'PRAGMA mmap_size = 1073741824; SELECT grp, count(*) FROM t WHERE grp > 90 GROUP BY grp;'
