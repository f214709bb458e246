-- Reverts 0002_hegemony.
DROP TABLE ihr_hegemony_prefix;
DROP TABLE ihr_hegemony_country;
DROP TABLE ihr_hegemony_alarms;
DROP TABLE ihr_hegemonycone;
DROP TABLE ihr_hegemony;
