-- attachment_body first: its check names the other two columns.
ALTER TABLE outgoing_mail DROP COLUMN attachment_body;
ALTER TABLE outgoing_mail DROP COLUMN attachment_type;
ALTER TABLE outgoing_mail DROP COLUMN attachment_name;
