-- A household is known by the keyed hash of its head's ID number and of its phone, whichever
-- a submission gives: either key finds it. (households.identity_hash keeps the key it was
-- first known by.)
CREATE TABLE household_keys (
    key_hash     TEXT PRIMARY KEY NOT NULL,
    household_id TEXT NOT NULL REFERENCES households (id)
);
INSERT INTO household_keys (key_hash, household_id) SELECT identity_hash, id FROM households;
CREATE INDEX household_keys_household ON household_keys (household_id);

-- Submitting and withdrawing are actions of their own; viewers have neither, reviewers
-- may submit (组织推荐) but withdraw nothing. Roles that read referral data are granted by
-- supervisors only.
INSERT INTO permissions (role, action, scope) VALUES
    ('admin', 'nomination.submit', 'subtree'),
    ('admin', 'nomination.withdraw', 'subtree'),
    ('reviewer', 'nomination.submit', 'subtree'),
    ('case_officer', 'nomination.submit', 'subtree'),
    ('supervisor', 'staff.grant_sensitive', 'subtree');
