DROP TABLE audit_log;
DROP TABLE break_glass;
DROP TABLE api_tokens;
DROP TABLE sessions;
DROP TABLE action_links;
DROP TABLE permissions;
DROP TABLE role_assignments;
ALTER TABLE people DROP COLUMN active;
