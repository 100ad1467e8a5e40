-- County case officers check eligibility, so they see nominations in their subtree.
INSERT INTO permissions (role, action, scope) VALUES ('case_officer', 'nomination.view', 'subtree');
