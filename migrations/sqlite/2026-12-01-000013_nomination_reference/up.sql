-- A short readable reference for each nomination (`620122-2026-0042`: county, campaign year,
-- sequence), told to a family on the public form's confirmation instead of an id.
CREATE TABLE nomination_counters (
    county_code TEXT NOT NULL,
    year        INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL,
    PRIMARY KEY (county_code, year)
);
-- Nominations made before references existed have none.
ALTER TABLE nominations ADD COLUMN reference TEXT;
CREATE UNIQUE INDEX nominations_reference ON nominations (reference);
