//! Streaming behaviour against a real Postgres: restarts, acknowledgements, errors.
