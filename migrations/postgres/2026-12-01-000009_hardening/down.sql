DELETE FROM permissions WHERE action IN ('nomination.submit', 'nomination.withdraw', 'staff.grant_sensitive');
DROP TABLE household_keys;
