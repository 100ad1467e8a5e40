ALTER TABLE outgoing_mail DROP CONSTRAINT outgoing_mail_attachment_whole;
ALTER TABLE outgoing_mail DROP COLUMN attachment_body;
ALTER TABLE outgoing_mail DROP COLUMN attachment_type;
ALTER TABLE outgoing_mail DROP COLUMN attachment_name;
