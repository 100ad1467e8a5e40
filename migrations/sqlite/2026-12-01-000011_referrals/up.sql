-- 反家暴联动机制: referrals. Every victim, reporter and incident field is sealed (AEAD, the key
-- id inside each value); what stays plain is what routing and deadlines need: the case number,
-- the units, the source, the risk level, states and times.
CREATE TABLE referrals (
    id               TEXT PRIMARY KEY NOT NULL,
    case_number      TEXT NOT NULL UNIQUE,
    county_code      TEXT NOT NULL REFERENCES orgs (code),
    village_code     TEXT NOT NULL REFERENCES orgs (code),
    source           TEXT NOT NULL,
    state            TEXT NOT NULL,
    risk_level       TEXT,
    risk_score       INTEGER,
    consent_basis    TEXT NOT NULL,
    assigned_officer TEXT REFERENCES people (id),
    -- Sealed JSON: name, sex, age, phone, address, ID number, safe-contact instructions.
    victim_sealed    TEXT NOT NULL,
    -- Sealed JSON: who reported (only the assigned officer reads it); NULL for self-referrals.
    reporter_sealed  TEXT,
    -- Sealed JSON: summary, relationship, children, risk answers, consent record.
    incident_sealed  TEXT NOT NULL,
    outcome          TEXT,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);
CREATE INDEX referrals_county ON referrals (county_code, state);

-- The last case number given per county and year.
CREATE TABLE referral_counters (
    county_code TEXT NOT NULL,
    year        INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL,
    PRIMARY KEY (county_code, year)
);

-- What someone must acknowledge: taking the case (kind intake) or an agency's task.
CREATE TABLE referral_tasks (
    id              TEXT PRIMARY KEY NOT NULL,
    referral_id     TEXT NOT NULL REFERENCES referrals (id),
    kind            TEXT NOT NULL CHECK (kind IN ('intake', 'agency')),
    agency          TEXT,
    owner_unit      TEXT NOT NULL REFERENCES orgs (code),
    state           TEXT NOT NULL,
    opened_at       TIMESTAMP NOT NULL,
    ack_due_at      TIMESTAMP NOT NULL,
    act_due_at      TIMESTAMP,
    acknowledged_at TIMESTAMP,
    acknowledged_by TEXT,
    settled_at      TIMESTAMP,
    escalations     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX referral_tasks_referral ON referral_tasks (referral_id);

-- The case's timeline. `details` is JSON without personal data; free text is sealed.
CREATE TABLE referral_events (
    id          TEXT PRIMARY KEY NOT NULL,
    referral_id TEXT NOT NULL REFERENCES referrals (id),
    task_id     TEXT,
    at          TIMESTAMP NOT NULL,
    actor       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    details     TEXT NOT NULL,
    note_sealed TEXT
);
CREATE INDEX referral_events_referral ON referral_events (referral_id, at);

-- Who may read the case beyond their role: the assigned officer, liaisons with a task,
-- people a ladder step reached, supervisors named on it. Each grant is also audited.
CREATE TABLE referral_access (
    referral_id TEXT NOT NULL REFERENCES referrals (id),
    person_id   TEXT NOT NULL REFERENCES people (id),
    reason      TEXT NOT NULL,
    granted_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (referral_id, person_id)
);
CREATE INDEX referral_access_person ON referral_access (person_id);

-- Legal clocks: protection-order decisions and expiry, shelter stays, follow-up visits.
CREATE TABLE referral_clocks (
    id          TEXT PRIMARY KEY NOT NULL,
    referral_id TEXT NOT NULL REFERENCES referrals (id),
    kind        TEXT NOT NULL,
    started_at  TIMESTAMP NOT NULL,
    due_at      TIMESTAMP NOT NULL,
    warn_at     TIMESTAMP NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('running', 'warned', 'breached', 'met', 'stopped')),
    settled_at  TIMESTAMP
);
CREATE INDEX referral_clocks_referral ON referral_clocks (referral_id);

INSERT INTO permissions (role, action, scope) VALUES
    ('case_officer', 'referral.find', 'subtree'),
    ('supervisor', 'referral.find', 'subtree'),
    ('agency_liaison', 'referral.find', 'subtree'),
    ('reviewer', 'referral.read', 'assigned'),
    ('reviewer', 'referral.acknowledge', 'assigned'),
    ('case_officer', 'referral.acknowledge', 'assigned'),
    ('supervisor', 'referral.acknowledge', 'assigned'),
    ('supervisor', 'referral.manage', 'assigned');
