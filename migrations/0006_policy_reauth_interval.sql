-- Reauthentication: seconds after which a session's client must have
-- authenticated anew (RFC 4478 AUTH_LIFETIME in the IKE_AUTH answer; RADIUS
-- is asked again); a session still there then is ended. 0: never.
ALTER TABLE policies ADD COLUMN reauth_interval INTEGER NOT NULL DEFAULT 0;
