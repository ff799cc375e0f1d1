//! The live Request Trace API client: credentials that never print ([`auth`]), a client-side
//! rate limiter ([`ratelimit`]), the retry policy ([`retry`]) and the HTTP client with
//! Cloudflare's error codes mapped to advice ([`client`]).

pub(crate) mod auth;
pub(crate) mod client;
mod error;
pub(crate) mod ratelimit;
mod reads;
pub(crate) mod retry;

pub(crate) use auth::{Credentials, Secret};
pub(crate) use client::{Client, ClientConfig};
pub(crate) use error::ApiError;
pub(crate) use ratelimit::RateLimit;
pub(crate) use reads::Scope;
pub(crate) use retry::RetryPolicy;

/// The API base URL when neither `--api-url` nor an environment variable sets one.
pub(crate) const DEFAULT_API_URL: &str = "https://api.cloudflare.com/client/v4";
