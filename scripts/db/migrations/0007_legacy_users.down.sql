-- Reverts 0007_legacy_users.
DROP TABLE ihr_ihruser_channel;
DROP TABLE ihr_emailchangerequest;
DROP TABLE ihr_monitoredasn;
DROP TABLE ihr_ihruser;
