DELETE FROM permissions WHERE action = 'volunteer.manage' OR (role = 'admin' AND action = 'tour.manage');
DROP TABLE tour_sessions;
DROP TABLE tour_villages;
DROP TABLE tours;
DROP TABLE volunteers;
