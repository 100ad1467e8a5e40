ALTER TABLE review_tasks DROP COLUMN due_at;
