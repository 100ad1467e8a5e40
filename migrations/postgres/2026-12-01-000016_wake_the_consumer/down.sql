DROP TRIGGER deliveries_wake ON deliveries;
DROP FUNCTION jinguo_notify_consumer();
CREATE TRIGGER deliveries_wake AFTER INSERT ON deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION jinguo_notify('jinguo_deliveries');
