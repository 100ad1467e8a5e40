-- The org tree: province → 市州 → 县区 → 乡镇/街道 → 村/社区, keyed by the 12-digit division code.
CREATE TABLE orgs (
    code                  TEXT PRIMARY KEY CHECK (length(code) = 12),
    parent_code           TEXT REFERENCES orgs (code),
    level                 TEXT NOT NULL CHECK (level IN ('province', 'city', 'county', 'township', 'village')),
    name                  TEXT NOT NULL CHECK (name <> ''),
    longitude             DOUBLE PRECISION,
    latitude              DOUBLE PRECISION,
    coordinates_generated BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX orgs_parent_code ON orgs (parent_code);
