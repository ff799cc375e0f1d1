//! The live Request Trace API client: credentials that never print ([`auth`]), a client-side
//! rate limiter ([`ratelimit`]), the retry policy ([`retry`]) and the HTTP client with
//! Cloudflare's error codes mapped to advice ([`client`]).

pub mod auth;
pub mod client;
pub mod ratelimit;
pub mod retry;

pub use auth::{Credentials, Secret};
pub use client::{Client, ClientConfig, TraceError, TraceErrorKind};
pub use ratelimit::RateLimit;
pub use retry::RetryPolicy;

/// The API base URL when neither `--api-url` nor an environment variable sets one.
pub const DEFAULT_API_URL: &str = "https://api.cloudflare.com/client/v4";
