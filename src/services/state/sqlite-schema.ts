/**
 * The state database's schema, one entry per version (PRAGMA user_version counts the applied
 * ones). Records are JSON documents keyed by their id: the engine keeps its own record shapes, and
 * the columns beside them are what queries filter on. Only ever append a version.
 */
export const SCHEMA: readonly string[] = [
  `CREATE TABLE kms_keys (key_id TEXT PRIMARY KEY, record TEXT NOT NULL) WITHOUT ROWID;
   CREATE TABLE kms_aliases (alias_name TEXT PRIMARY KEY, record TEXT NOT NULL) WITHOUT ROWID;
   CREATE TABLE principals (name TEXT PRIMARY KEY, record TEXT NOT NULL) WITHOUT ROWID;
   CREATE TABLE audit_events (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     event_id TEXT NOT NULL UNIQUE,
     event_time TEXT NOT NULL,
     event_name TEXT NOT NULL,
     event_source TEXT NOT NULL,
     read_only INTEGER NOT NULL,
     principal_arn TEXT NOT NULL,
     user_name TEXT,
     access_key_id TEXT,
     body TEXT NOT NULL
   );
   CREATE INDEX audit_events_by_name ON audit_events (event_name, seq);
   CREATE INDEX audit_events_by_principal ON audit_events (principal_arn, seq);
   CREATE INDEX audit_events_by_time ON audit_events (event_time);
   CREATE TABLE audit_resources (
     seq INTEGER NOT NULL REFERENCES audit_events (seq),
     arn TEXT NOT NULL,
     resource_id TEXT NOT NULL,
     type TEXT NOT NULL
   );
   CREATE INDEX audit_resources_by_event ON audit_resources (seq);
   CREATE INDEX audit_resources_by_id ON audit_resources (resource_id);
   CREATE INDEX audit_resources_by_arn ON audit_resources (arn);`,
];
