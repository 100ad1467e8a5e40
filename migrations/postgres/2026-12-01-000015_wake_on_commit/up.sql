-- Wake-ups across processes: a statement that queues work notifies, and PostgreSQL delivers the
-- notification when (and only if) its transaction commits, once per channel per transaction.
-- Relays and in-process consumers of other processes LISTEN (jinguo_store::listen_for_wakeups).
CREATE FUNCTION jinguo_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify(TG_ARGV[0], '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER outbox_wakes AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION jinguo_notify('jinguo_outbox');
CREATE TRIGGER deliveries_wake AFTER INSERT ON deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION jinguo_notify('jinguo_deliveries');
