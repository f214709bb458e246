-- Reverts 0003_delay_forwarding.
DROP TABLE ihr_forwarding_alarms_msms;
DROP TABLE ihr_delay_alarms_msms;
DROP TABLE ihr_forwarding_alarms;
DROP TABLE ihr_delay_alarms;
DROP TABLE ihr_forwarding;
DROP TABLE ihr_delay;
