DROP TRIGGER deliveries_wake ON deliveries;
DROP TRIGGER outbox_wakes ON outbox;
DROP FUNCTION jinguo_notify();
