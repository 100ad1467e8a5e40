-- Messages recorded in the transaction that caused them; the relay publishes and marks them sent.
CREATE TABLE outbox (
    seq              BIGSERIAL PRIMARY KEY,
    message_id       TEXT NOT NULL,
    kind             TEXT NOT NULL,
    -- NULL: to every consumer bound to kind; otherwise to that consumer only (retries, replays).
    target           TEXT,
    envelope         TEXT NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    next_attempt_at  TIMESTAMP NOT NULL,
    publish_attempts INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    sent_at          TIMESTAMP
);
CREATE INDEX outbox_unsent ON outbox (next_attempt_at) WHERE sent_at IS NULL;

-- Messages a consumer has handled, recorded in the handler's own transaction.
CREATE TABLE inbox (
    consumer   TEXT NOT NULL,
    message_id TEXT NOT NULL,
    handled_at TIMESTAMP NOT NULL,
    PRIMARY KEY (consumer, message_id)
);

-- Everything that waits: deadlines, reminders, long retries. Fired once into the outbox.
CREATE TABLE timers (
    key        TEXT PRIMARY KEY,
    due_at     TIMESTAMP NOT NULL,
    kind       TEXT NOT NULL,
    target     TEXT,
    envelope   TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX timers_due ON timers (due_at);

-- Messages that could not be handled, for operators to read and replay.
CREATE TABLE dead_letters (
    id          BIGSERIAL PRIMARY KEY,
    message_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    consumer    TEXT NOT NULL,
    envelope    TEXT NOT NULL,
    error       TEXT NOT NULL,
    dead_at     TIMESTAMP NOT NULL,
    replayed_at TIMESTAMP
);

-- The in-process bus's queue: one row per (consumer, message) until handled or dead.
CREATE TABLE deliveries (
    seq        BIGSERIAL PRIMARY KEY,
    consumer   TEXT NOT NULL,
    message_id TEXT NOT NULL,
    envelope   TEXT NOT NULL,
    due_at     TIMESTAMP NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (consumer, due_at);
