-- The PostgreSQL schema's notify triggers (wake-ups across processes) have no SQLite
-- counterpart: the embedded default is one process, woken in memory. Kept so that both
-- backends carry the same migration versions.
SELECT 1;
