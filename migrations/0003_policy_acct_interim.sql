-- RADIUS accounting: Interim-Update interval of a policy's sessions in
-- seconds (0: none, unless the Access-Accept sends Acct-Interim-Interval,
-- which takes precedence).
ALTER TABLE policies ADD COLUMN acct_interim_interval INTEGER NOT NULL DEFAULT 0;
