-- One row per cron tick fired: the unique key is what makes a tick fire once across replicas.
CREATE TABLE cron_ticks (
    job      TEXT NOT NULL,
    tick     TIMESTAMP NOT NULL,
    fired_at TIMESTAMP NOT NULL,
    PRIMARY KEY (job, tick)
);

-- People Jinguo notifies, and how they prefer to be reached.
CREATE TABLE people (
    id                TEXT PRIMARY KEY NOT NULL,
    display_name      TEXT NOT NULL,
    email             TEXT NOT NULL,
    phone             TEXT,
    preferred_channel TEXT NOT NULL DEFAULT 'email' CHECK (preferred_channel IN ('email', 'sms')),
    created_at        TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX people_email ON people (lower(email));

-- Every mail composed, with its rendered parts; sent_at is set by the mailer in the same
-- transaction as its inbox row, so a redelivered mail.send message does not send it again.
CREATE TABLE outgoing_mail (
    id         TEXT PRIMARY KEY NOT NULL,
    person_id  TEXT REFERENCES people (id),
    to_address TEXT NOT NULL,
    subject    TEXT NOT NULL,
    text_body  TEXT NOT NULL,
    html_body  TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    sent_at    TIMESTAMP
);
