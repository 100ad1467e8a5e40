-- 评选活动: a campaign and its rules.
CREATE TABLE campaigns (
    id                TEXT PRIMARY KEY NOT NULL,
    name              TEXT NOT NULL,
    year              INTEGER NOT NULL,
    scope_org         TEXT NOT NULL REFERENCES orgs (code),
    -- JSON: categories, quotas and deadlines per level, publicity lengths, decision rule.
    rules             TEXT NOT NULL,
    created_by        TEXT NOT NULL,
    created_at        TIMESTAMP NOT NULL
);

-- Households, known across campaigns by a keyed hash of the head's ID number or phone.
CREATE TABLE households (
    id            TEXT PRIMARY KEY NOT NULL,
    identity_hash TEXT NOT NULL UNIQUE,
    incident_flag BOOLEAN NOT NULL DEFAULT 0,
    created_at    TIMESTAMP NOT NULL
);

CREATE TABLE nominations (
    id           TEXT PRIMARY KEY NOT NULL,
    campaign_id  TEXT NOT NULL REFERENCES campaigns (id),
    village_code TEXT NOT NULL REFERENCES orgs (code),
    household_id TEXT NOT NULL REFERENCES households (id),
    category     TEXT NOT NULL,
    channel      TEXT NOT NULL CHECK (channel IN ('self', 'others', 'organization')),
    -- JSON: head's name, members with relation, address, phone.
    family       TEXT NOT NULL,
    story        TEXT NOT NULL,
    nominator    TEXT NOT NULL,
    state        TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
CREATE INDEX nominations_campaign ON nominations (campaign_id, state);

-- Every change of state, once.
CREATE TABLE nomination_history (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    nomination_id TEXT NOT NULL REFERENCES nominations (id),
    at            TIMESTAMP NOT NULL,
    actor         TEXT NOT NULL,
    event         TEXT NOT NULL,
    from_state    TEXT NOT NULL,
    to_state      TEXT NOT NULL,
    reason        TEXT
);
CREATE INDEX nomination_history_nomination ON nomination_history (nomination_id, seq);

-- One task per reviewer of a level's org unit; one decision completes the level.
CREATE TABLE review_tasks (
    id            TEXT PRIMARY KEY NOT NULL,
    nomination_id TEXT NOT NULL REFERENCES nominations (id),
    level         TEXT NOT NULL CHECK (level IN ('village', 'township', 'county')),
    org_code      TEXT NOT NULL REFERENCES orgs (code),
    reviewer      TEXT NOT NULL REFERENCES people (id),
    created_at    TIMESTAMP NOT NULL,
    decided_at    TIMESTAMP,
    decision      TEXT,
    closed_at     TIMESTAMP
);
CREATE INDEX review_tasks_nomination ON review_tasks (nomination_id, level);

-- What each unit forwarded, per campaign and level: what quotas count.
CREATE TABLE forwarded (
    campaign_id   TEXT NOT NULL REFERENCES campaigns (id),
    level         TEXT NOT NULL,
    org_code      TEXT NOT NULL,
    nomination_id TEXT NOT NULL REFERENCES nominations (id),
    PRIMARY KEY (campaign_id, level, nomination_id)
);
CREATE INDEX forwarded_unit ON forwarded (campaign_id, level, org_code);
