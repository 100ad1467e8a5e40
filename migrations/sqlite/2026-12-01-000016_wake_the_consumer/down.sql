-- PostgreSQL's notify triggers have no SQLite counterpart (one process, woken in memory); kept
-- so that both backends carry the same migration versions.
SELECT 1;
