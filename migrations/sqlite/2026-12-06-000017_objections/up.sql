-- Objections raised against a nomination during a 公示, from its public page. The objector's
-- phone is sealed (opened only on the county reviewers' investigation page).
CREATE TABLE nomination_objections (
    id            TEXT NOT NULL PRIMARY KEY,
    nomination_id TEXT NOT NULL REFERENCES nominations (id),
    name          TEXT NOT NULL,
    phone_sealed  TEXT NOT NULL,
    reason        TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX nomination_objections_nomination ON nomination_objections (nomination_id, created_at);

-- The investigation of a nomination's objections while it is open: which 公示 it paused and
-- how much of it was left, so that a dismissal resumes it for exactly that time.
CREATE TABLE nomination_investigations (
    nomination_id TEXT NOT NULL PRIMARY KEY REFERENCES nominations (id),
    publicity     TEXT NOT NULL CHECK (publicity IN ('village_publicity', 'publicity')),
    remaining_ms  INTEGER NOT NULL,
    opened_at     TIMESTAMP NOT NULL
);
