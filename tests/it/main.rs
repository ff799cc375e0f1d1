//! The integration tests, one binary (one link step): each module drives the real
//! `rulegate` binary (through `common::bin`) or the library, as its own doc says.

mod common;

mod action;
mod baseline;
mod bulk_redirects;
mod check;
mod cli;
mod coverage;
mod docs;
mod eval;
mod explain;
mod faults;
mod gate;
mod github;
mod init;
mod layers;
mod local;
mod offline_only;
mod owasp;
mod realworld;
mod record;
mod replay;
mod schema;
mod serve_faults;
mod snapshot;
mod surface;
mod terraform;
mod versus_wirefilter;
