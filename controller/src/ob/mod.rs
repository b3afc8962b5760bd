//! The OB module: replication and archiving of observation blocks on PostgreSQL (seed 000).
