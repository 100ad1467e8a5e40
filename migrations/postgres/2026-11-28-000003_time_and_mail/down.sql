DROP TABLE outgoing_mail;
DROP TABLE people;
DROP TABLE cron_ticks;
