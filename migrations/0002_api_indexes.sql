-- Indexes for the REST API's lists and filters: a tenant's certificates by
-- kind in id order, and the audit log by actor (newest first).
CREATE INDEX certificates_tenant ON certificates (tenant_id, kind, id);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
