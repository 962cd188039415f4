-- The "Autoscuola Bianchi" sample: the school's management software keeps its data in a database
-- (SQLite here; the same tables in PostgreSQL or MariaDB work with another connection string).
-- `sqlite3 var/bianchi-gestionale.db < gestionale.sql` makes it (see README.md).
CREATE TABLE allievi (
  id INTEGER PRIMARY KEY,
  nome TEXT NOT NULL,
  cognome TEXT NOT NULL,
  codice_fiscale TEXT,
  nato_il TEXT,
  email TEXT,
  telefono TEXT,
  modificato TEXT NOT NULL
);
CREATE INDEX allievi_modificato ON allievi (modificato, id);
CREATE TABLE pratiche (
  id INTEGER PRIMARY KEY,
  allievo_id INTEGER NOT NULL REFERENCES allievi (id),
  patente TEXT NOT NULL,
  stato TEXT NOT NULL,
  aperta_il TEXT,
  modificato TEXT NOT NULL
);
CREATE INDEX pratiche_modificato ON pratiche (modificato, id);
INSERT INTO allievi VALUES
  (1, 'Giulia', 'Bianchi', 'BNCGLI01C45H501C', '05/03/2001', 'giulia.bianchi@example.it', '+39 333 1234567', '2024-03-01 09:00:00'),
  (2, 'Marco', 'Esposito', NULL, '17/11/1999', 'marco.e@example.it', NULL, '2024-03-01 09:00:00'),
  (3, 'Niccolò', 'Ferri', NULL, '29/02/2004', NULL, '+39 347 7654321', '2024-03-02 15:30:00');
INSERT INTO pratiche VALUES
  (10, 1, 'B', 'foglio rosa', '2024-01-10', '2024-03-01 09:05:00'),
  (11, 2, 'A2', 'aperta', '2024-02-20', '2024-03-01 09:06:00'),
  (12, 3, 'B', 'esame superato', '2023-09-01', '2024-03-02 15:31:00');
