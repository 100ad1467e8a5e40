-- Staff accounts are people who can sign in; a disabled one can do nothing.
ALTER TABLE people ADD COLUMN active BOOLEAN NOT NULL DEFAULT TRUE;

-- Roles on the org tree: each reaches its org unit and (by the permission's scope) below it.
CREATE TABLE role_assignments (
    id         BIGSERIAL PRIMARY KEY,
    person_id  TEXT NOT NULL REFERENCES people (id),
    role       TEXT NOT NULL CHECK (role IN ('admin', 'reviewer', 'coordinator', 'case_officer', 'agency_liaison', 'supervisor', 'viewer')),
    org_code   TEXT NOT NULL REFERENCES orgs (code),
    agency     TEXT CHECK (agency IN ('police', 'court', 'procuratorate', 'civil_affairs', 'justice', 'health', 'education', 'federation')),
    created_at TIMESTAMP NOT NULL,
    UNIQUE (person_id, role, org_code)
);
CREATE INDEX role_assignments_org ON role_assignments (org_code);

-- The permission table: role × action × scope. Later programs add rows, not code.
CREATE TABLE permissions (
    role   TEXT NOT NULL,
    action TEXT NOT NULL,
    scope  TEXT NOT NULL CHECK (scope IN ('subtree', 'unit', 'assigned')),
    PRIMARY KEY (role, action)
);
INSERT INTO permissions (role, action, scope) VALUES
    ('admin', 'org.view', 'subtree'),
    ('admin', 'staff.view', 'subtree'),
    ('admin', 'staff.manage', 'subtree'),
    ('admin', 'campaign.manage', 'subtree'),
    ('admin', 'nomination.view', 'subtree'),
    ('admin', 'audit.read', 'subtree'),
    ('reviewer', 'org.view', 'subtree'),
    ('reviewer', 'nomination.view', 'subtree'),
    ('reviewer', 'nomination.review', 'unit'),
    ('coordinator', 'org.view', 'subtree'),
    ('coordinator', 'tour.manage', 'subtree'),
    ('case_officer', 'org.view', 'subtree'),
    ('case_officer', 'referral.intake', 'subtree'),
    ('case_officer', 'referral.read', 'assigned'),
    ('case_officer', 'referral.manage', 'assigned'),
    ('case_officer', 'nomination.eligibility_reason', 'subtree'),
    ('case_officer', 'break_glass.request', 'subtree'),
    ('agency_liaison', 'referral.read', 'assigned'),
    ('agency_liaison', 'referral.acknowledge', 'assigned'),
    ('supervisor', 'org.view', 'subtree'),
    ('supervisor', 'staff.view', 'subtree'),
    ('supervisor', 'referral.read', 'assigned'),
    ('supervisor', 'referral.supervise', 'subtree'),
    ('supervisor', 'audit.read', 'subtree'),
    ('supervisor', 'break_glass.request', 'subtree'),
    ('viewer', 'org.view', 'subtree'),
    ('viewer', 'nomination.view', 'subtree');

-- Emailed action links: only the token's hash is kept.
CREATE TABLE action_links (
    token_hash    TEXT PRIMARY KEY,
    purpose       TEXT NOT NULL,
    subject       TEXT NOT NULL,
    actor         TEXT NOT NULL REFERENCES people (id),
    created_at    TIMESTAMP NOT NULL,
    expires_at    TIMESTAMP NOT NULL,
    used_at       TIMESTAMP,
    outcome       TEXT,
    superseded_at TIMESTAMP,
    superseded_by TEXT
);
CREATE INDEX action_links_subject ON action_links (purpose, subject);

-- Signed-in browser sessions (cookie holds the token; the hash is kept).
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    person_id  TEXT NOT NULL REFERENCES people (id),
    csrf       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);

-- Bearer tokens for the API and integrations.
CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,
    person_id  TEXT NOT NULL REFERENCES people (id),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    revoked_at TIMESTAMP
);

-- Emergency access to one case, for a short time, with a reason.
CREATE TABLE break_glass (
    id         BIGSERIAL PRIMARY KEY,
    person_id  TEXT NOT NULL REFERENCES people (id),
    case_id    TEXT NOT NULL,
    reason     TEXT NOT NULL,
    granted_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);

-- Append-only, hash-chained audit log. Details never hold personal data.
CREATE TABLE audit_log (
    seq       BIGSERIAL PRIMARY KEY,
    at        TIMESTAMP NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    details   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
