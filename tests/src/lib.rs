//! Helpers for the end-to-end tests: locate the real `asto` binary, make workspaces.
