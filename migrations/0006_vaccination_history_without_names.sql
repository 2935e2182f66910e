-- Projection "vaccination_history" no longer copies names or dates of birth out of the
-- (encryptable) event store: the history route takes them from the person's record, and the
-- projection keeps only the birth year (for coverage by age). Its rows are emptied and its
-- position reset, so the engine rebuilds it from position 0 on its next batch.
-- Portable: applied to PostgreSQL and to the SQLite projections file alike.
DELETE FROM vh_doses;
DELETE FROM vh_people;
ALTER TABLE vh_people DROP COLUMN full_name;
ALTER TABLE vh_people DROP COLUMN date_of_birth;
ALTER TABLE vh_people ADD COLUMN birth_year integer;
UPDATE projection_positions SET position = 0 WHERE name = 'vaccination_history';
