DROP TABLE deliveries;
DROP TABLE dead_letters;
DROP TABLE timers;
DROP TABLE inbox;
DROP TABLE outbox;
