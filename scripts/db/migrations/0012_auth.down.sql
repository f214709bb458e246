-- Reverts 0012_auth: the auth service's tables and everything in them.
DROP TABLE auth_alerts_sent;
DROP TABLE auth_audit;
DROP TABLE auth_signing_keys;
DROP TABLE auth_monitored_asns;
DROP TABLE auth_clients;
DROP TABLE auth_api_keys;
DROP TABLE auth_refresh_tokens;
DROP TABLE auth_codes;
DROP TABLE auth_login_failures;
DROP TABLE auth_users;
DROP TABLE auth_roles;
