-- The mails the auth service sends to an address on anyone's request (an
-- account already there at registration, a password reset, a new address
-- to confirm), by lowered address and kind: at most one a while each, so
-- that nobody floods an inbox through the API.
CREATE TABLE auth_mail_throttle (
    email   text        NOT NULL,
    kind    text        NOT NULL,
    sent_at timestamptz NOT NULL,
    PRIMARY KEY (email, kind)
);
