DELETE FROM permissions WHERE role = 'case_officer' AND action = 'nomination.view';
