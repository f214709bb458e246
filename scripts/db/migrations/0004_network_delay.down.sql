-- Reverts 0004_network_delay.
DROP TABLE ihr_atlas_delay_alarms;
DROP TABLE ihr_atlas_delay;
