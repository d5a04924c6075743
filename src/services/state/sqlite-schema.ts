/**
 * The state database's schema, one entry per version (PRAGMA user_version counts the applied
 * ones). Records are JSON documents keyed by their id: the engine keeps its own record shapes, and
 * the columns beside them are what queries filter on. Only ever append a version.
 */
export const SCHEMA: readonly string[] = [
  `CREATE TABLE kms_keys (key_id TEXT PRIMARY KEY, record TEXT NOT NULL) WITHOUT ROWID;
   CREATE TABLE kms_aliases (alias_name TEXT PRIMARY KEY, record TEXT NOT NULL) WITHOUT ROWID;
   CREATE TABLE principals (name TEXT PRIMARY KEY, record TEXT NOT NULL) WITHOUT ROWID;
   CREATE TABLE coffer_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
   CREATE TABLE audit_events (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     event_id TEXT NOT NULL,
     event_ms INTEGER NOT NULL,
     event_name TEXT NOT NULL,
     event_source TEXT NOT NULL,
     read_only INTEGER NOT NULL,
     principal_arn TEXT NOT NULL,
     user_name TEXT,
     access_key_id TEXT,
     body TEXT NOT NULL
   );
   CREATE INDEX audit_events_by_id ON audit_events (event_id);
   CREATE INDEX audit_events_by_name ON audit_events (event_name);
   CREATE INDEX audit_events_by_principal ON audit_events (principal_arn);
   CREATE INDEX audit_events_by_user ON audit_events (user_name);
   CREATE INDEX audit_events_by_access_key ON audit_events (access_key_id);
   CREATE INDEX audit_events_by_time ON audit_events (event_ms);
   -- Each resource of an event under every name a query may give for it: its ARN, and every
   -- part of it after a slash (a key id; an alias name with or without alias/; an object key).
   CREATE TABLE audit_resource_names (name TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, PRIMARY KEY (name, seq)) WITHOUT ROWID;
   CREATE INDEX audit_resource_names_by_type ON audit_resource_names (type, seq);`,
];
