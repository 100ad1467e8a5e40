-- 巡回宣讲 (lecture tours): volunteer lecturers, tours, their villages and their sessions.

-- 巾帼志愿者: a person (name, email, phone in people) who gives talks. Dates are YYYY-MM-DD
-- text; topics and unavailable dates are JSON arrays.
CREATE TABLE volunteers (
    person_id      TEXT NOT NULL PRIMARY KEY REFERENCES people (id),
    home_village   TEXT NOT NULL REFERENCES orgs (code),
    county_code    TEXT NOT NULL REFERENCES orgs (code),
    topics         TEXT NOT NULL,
    max_per_day    INTEGER NOT NULL CHECK (max_per_day BETWEEN 1 AND 6),
    available_from TEXT,
    available_to   TEXT,
    unavailable    TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL
);
CREATE INDEX volunteers_county ON volunteers (county_code);

-- A tour: what the coordinator asked for (`spec`, JSON, read only by the tours program), the
-- plan the worker computed (`plan`, JSON), and removals made after publishing (`removals`).
-- `plan_request` names the planning asked for last, so a stale job's result is dropped.
CREATE TABLE tours (
    id           TEXT NOT NULL PRIMARY KEY,
    name         TEXT NOT NULL,
    county_code  TEXT NOT NULL REFERENCES orgs (code),
    spec         TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('draft', 'planning', 'planned', 'published')),
    plan_request TEXT,
    plan         TEXT,
    plan_note    TEXT,
    removals     TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    planned_at   TIMESTAMP,
    published_at TIMESTAMP
);
CREATE INDEX tours_county ON tours (county_code, created_at);

-- The villages a tour covers, each with its venue.
CREATE TABLE tour_villages (
    tour_id      TEXT NOT NULL REFERENCES tours (id),
    village_code TEXT NOT NULL REFERENCES orgs (code),
    venue        TEXT NOT NULL,
    capacity     INTEGER,
    PRIMARY KEY (tour_id, village_code)
);

-- A published talk: the n-th talk of a village in a tour, which keeps its id (and its
-- calendar UID) through repairs; `sequence` counts its published versions. A talk no lecturer
-- can take any more is 'cancelled' (volunteer_id NULL); 'held' once the host recorded it.
CREATE TABLE tour_sessions (
    id            TEXT NOT NULL PRIMARY KEY,
    tour_id       TEXT NOT NULL REFERENCES tours (id),
    village_code  TEXT NOT NULL REFERENCES orgs (code),
    n             INTEGER NOT NULL,
    volunteer_id  TEXT REFERENCES volunteers (person_id),
    day           TEXT NOT NULL,
    starts        TEXT NOT NULL,
    ends          TEXT NOT NULL,
    sequence      INTEGER NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('scheduled', 'cancelled', 'held')),
    attendance    INTEGER,
    topic_covered BOOLEAN,
    note          TEXT,
    recorded_at   TIMESTAMP,
    UNIQUE (tour_id, village_code, n)
);
CREATE INDEX tour_sessions_volunteer ON tour_sessions (volunteer_id);

INSERT INTO permissions (role, action, scope) VALUES
    ('admin', 'tour.manage', 'subtree'),
    ('coordinator', 'volunteer.manage', 'subtree'),
    ('admin', 'volunteer.manage', 'subtree');
