DELETE FROM permissions WHERE (role, action) IN (
    ('case_officer', 'referral.find'), ('supervisor', 'referral.find'),
    ('agency_liaison', 'referral.find'), ('reviewer', 'referral.read'),
    ('reviewer', 'referral.acknowledge'), ('case_officer', 'referral.acknowledge'),
    ('supervisor', 'referral.acknowledge'), ('supervisor', 'referral.manage'));
DROP TABLE referral_clocks;
DROP TABLE referral_access;
DROP TABLE referral_events;
DROP TABLE referral_tasks;
DROP TABLE referral_counters;
DROP TABLE referrals;
