//! Parley: a self-hosted chat server. REST and WebSocket on actix actors, with SQLite or
//! PostgreSQL storage. See `README.md` and `../shared/API.md`.

pub mod actors;
pub mod auth;
pub mod config;
pub mod db;
pub mod dead_peer;
pub mod domain;
pub mod error;
pub mod files;
pub mod http;
pub mod metrics;
pub mod operator_cli;
pub mod outbound;
pub mod server;
pub mod storage;
pub mod thumbnails;
pub mod web_push;
