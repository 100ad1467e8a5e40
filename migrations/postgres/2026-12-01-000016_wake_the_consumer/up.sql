-- A delivery's notification names its consumer, so that another process wakes that consumer
-- only. PostgreSQL folds identical notifications of one transaction into one: a relay batch
-- notifies each consumer it wrote to once.
DROP TRIGGER deliveries_wake ON deliveries;

CREATE FUNCTION jinguo_notify_consumer() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('jinguo_deliveries', NEW.consumer);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER deliveries_wake AFTER INSERT ON deliveries
    FOR EACH ROW EXECUTE FUNCTION jinguo_notify_consumer();
