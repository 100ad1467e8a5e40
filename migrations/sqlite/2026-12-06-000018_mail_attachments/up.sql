-- A mail may carry one attachment (a lecture tour's .ics calendar for each lecturer): its file
-- name, its content type and its body as text (calendars are text). All three or none: SQLite
-- adds no table constraint to an existing table, so the check rides on the last column.
ALTER TABLE outgoing_mail ADD COLUMN attachment_name TEXT;
ALTER TABLE outgoing_mail ADD COLUMN attachment_type TEXT;
ALTER TABLE outgoing_mail ADD COLUMN attachment_body TEXT CHECK (
    (attachment_name IS NULL) = (attachment_type IS NULL)
    AND (attachment_type IS NULL) = (attachment_body IS NULL)
);
