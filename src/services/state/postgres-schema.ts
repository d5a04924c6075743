/**
 * The PostgreSQL state's schema, one entry per version (the coffer_schema table counts the
 * applied ones). As in SQLite, records are JSON documents keyed by id; each row also carries a
 * version that every write checks, so two replicas changing one record cannot both succeed.
 * Only ever append a version.
 */
export const PG_SCHEMA: readonly string[] = [
  `CREATE TABLE kms_keys (key_id TEXT PRIMARY KEY, record JSONB NOT NULL, version BIGINT NOT NULL);
   CREATE TABLE kms_aliases (alias_name TEXT PRIMARY KEY, record JSONB NOT NULL, version BIGINT NOT NULL);
   CREATE TABLE principals (name TEXT PRIMARY KEY, record JSONB NOT NULL, version BIGINT NOT NULL);
   CREATE TABLE audit_events (
     seq BIGSERIAL PRIMARY KEY,
     event_id TEXT NOT NULL,
     event_ms BIGINT NOT NULL,
     event_name TEXT NOT NULL,
     event_source TEXT NOT NULL,
     read_only BOOLEAN NOT NULL,
     principal_arn TEXT NOT NULL,
     user_name TEXT,
     access_key_id TEXT,
     resource_names TEXT[] NOT NULL,
     resource_types TEXT[] NOT NULL,
     body JSONB NOT NULL
   );
   CREATE INDEX audit_events_by_id ON audit_events (event_id);
   CREATE INDEX audit_events_by_name ON audit_events (event_name, seq);
   CREATE INDEX audit_events_by_principal ON audit_events (principal_arn, seq);
   CREATE INDEX audit_events_by_user ON audit_events (user_name, seq);
   CREATE INDEX audit_events_by_time ON audit_events (event_ms);
   -- Every name a query may give for a resource: its ARN and each part of it after a slash.
   CREATE INDEX audit_events_by_resource ON audit_events USING GIN (resource_names);`,
];
