#!/usr/bin/env bash
# Test data for the conformance kit's runs of the `sql` connector: a SQLite school in
# CHECK_DIR/school.db and the same table in the throwaway PostgreSQL cluster whose URL
# tools/pg-test-cluster wrote to PG_STATE_DIR/url (or $REGLO_TEST_PG_URL) and in the throwaway
# MariaDB server whose port tools/mariadb-test-server wrote to MARIADB_STATE_DIR/port, and the kit's
# configs CHECK_DIR/sqlite.json, postgres.json and mariadb.json. Idempotent: the data is made afresh
# each run.
# Usage: make_check_data.sh CHECK_DIR PG_STATE_DIR MARIADB_STATE_DIR
set -euo pipefail
check_dir=$1
pg_state=$2
mariadb_state=$3
mkdir -p "$check_dir"
rm -f "$check_dir/school.db"

# 53 students; ids 1..20 share one updated_at, so pages of 7 split a tie.
rows="WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 53)"
sqlite3 "$check_dir/school.db" "CREATE TABLE alunni(id INTEGER PRIMARY KEY, nome TEXT, cognome TEXT,
  nato_il TEXT, email TEXT, aggiornato TIMESTAMP NOT NULL);
  $rows INSERT INTO alunni SELECT i, 'Nome' || i, 'Rossi', '05/03/2001', 'a' || i || '@example.com',
  CASE WHEN i <= 20 THEN '2024-03-01 10:00:00' ELSE printf('2024-03-02 10:%02d:00', i) END FROM n;"

url=${REGLO_TEST_PG_URL:-$(cat "$pg_state/url")}
psql -q -v ON_ERROR_STOP=1 "$url" -c "DROP TABLE IF EXISTS kit_alunni;
  CREATE TABLE kit_alunni(id integer PRIMARY KEY, nome text, cognome text, nato_il date, email text,
    aggiornato timestamp NOT NULL);
  INSERT INTO kit_alunni SELECT i, 'Nome' || i, 'Rossi', date '2001-03-05', 'a' || i || '@example.com',
    CASE WHEN i <= 20 THEN timestamp '2024-03-01 10:00:00.25'
         ELSE timestamp '2024-03-02 10:00:00' + i * interval '1 minute' END
  FROM generate_series(1, 53) i;" >/dev/null
# postgres://user@host:port/db
rest=${url#postgres://}
user=${rest%%@*}
rest=${rest#*@}
host=${rest%%:*}
rest=${rest#*:}
port=${rest%%/*}
db=${rest#*/}

entity() {  # table, birthDate format (or empty)
  local formats=""
  [[ -n $2 ]] && formats=", \"formats\": {\"birthDate\": \"$2\"}"
  echo "{\"student\": {\"table\": \"$1\", \"id_column\": \"id\", \"updated_at_column\": \"aggiornato\",
    \"columns\": {\"nome\": \"firstName\", \"cognome\": \"lastName\", \"nato_il\": \"birthDate\"}$formats}}"
}
cat >"$check_dir/sqlite.json" <<JSON
{"connection_string": "Driver=SQLite3;Database={base_dir}/school.db", "page_size": 7,
 "entities": $(entity alunni dd/mm/yyyy)}
JSON
cat >"$check_dir/postgres.json" <<JSON
{"connection_string": "Driver={PostgreSQL Unicode};Server=$host;Port=$port;Database=$db;Uid=$user",
 "page_size": 7, "entities": $(entity kit_alunni "")}
JSON

mariadb_port=$(cat "$mariadb_state/port")
mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P "$mariadb_port" -u reglo reglo_test -e "
  DROP TABLE IF EXISTS kit_alunni;
  CREATE TABLE kit_alunni(id integer PRIMARY KEY, nome text, cognome text, nato_il date, email text,
    aggiornato datetime(3) NOT NULL) CHARACTER SET utf8mb4;
  INSERT INTO kit_alunni
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 53)
    SELECT i, CONCAT('Nome', i), 'Rossi', DATE '2001-03-05', CONCAT('a', i, '@example.com'),
      CASE WHEN i <= 20 THEN TIMESTAMP '2024-03-01 10:00:00.25'
           ELSE TIMESTAMP '2024-03-02 10:00:00' + INTERVAL i MINUTE END
    FROM n;"
cat >"$check_dir/mariadb.json" <<JSON
{"connection_string": "Driver={MariaDB Unicode};Server=127.0.0.1;Port=$mariadb_port;Database=reglo_test;Uid=reglo",
 "page_size": 7, "entities": $(entity kit_alunni "")}
JSON
