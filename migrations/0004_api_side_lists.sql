-- The API reads a tenant's gateway identities and realms, and a policy's
-- pools, in the order they were given (rowid) for every row of a list: an
-- index on the owner keeps each read a range scan in rowid order, no sort.
CREATE INDEX gateway_ids_tenant ON gateway_ids (tenant_id);
CREATE INDEX realms_tenant ON realms (tenant_id);
CREATE INDEX pools_policy ON pools (policy_id);
