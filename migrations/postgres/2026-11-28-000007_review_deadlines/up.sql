-- When a review task is due (from the campaign's per-level deadline), if it has one.
ALTER TABLE review_tasks ADD COLUMN due_at TIMESTAMP;
