DROP TABLE forwarded;
DROP TABLE review_tasks;
DROP TABLE nomination_history;
DROP TABLE nominations;
DROP TABLE households;
DROP TABLE campaigns;
