-- Reverts 0013_auth_mail_throttle.
DROP TABLE auth_mail_throttle;
