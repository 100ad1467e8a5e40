DELETE FROM permissions WHERE action IN ('referral.find')
    OR (role = 'reviewer' AND action IN ('referral.read', 'referral.acknowledge'))
    OR (role IN ('case_officer', 'supervisor') AND action = 'referral.acknowledge')
    OR (role = 'supervisor' AND action = 'referral.manage');
DROP TABLE referral_clocks;
DROP TABLE referral_access;
DROP TABLE referral_events;
DROP TABLE referral_tasks;
DROP TABLE referral_counters;
DROP TABLE referrals;
