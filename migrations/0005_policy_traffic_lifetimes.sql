-- CHILD_SA lifetimes by traffic: the hard limit of bytes and of packets
-- that one CHILD_SA may carry in each direction (0: none). The gateway
-- rekeys at a soft limit of 85-95 % of it; a pair that reaches the hard
-- limit unrekeyed stops and ends the session.
ALTER TABLE policies ADD COLUMN child_lifetime_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE policies ADD COLUMN child_lifetime_packets INTEGER NOT NULL DEFAULT 0;
