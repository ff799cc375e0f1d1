//! The Request Trace API's wire types ([`wire`]) and the normalized [`view::TraceView`] that
//! expectations read, whatever the nesting of the trace, and the [`Behaviour`] a review
//! compares.

pub(crate) mod behaviour;
mod error;
pub(crate) mod validate;
pub(crate) mod view;
mod wire;

pub(crate) use behaviour::Behaviour;
pub(crate) use error::{TraceError, TraceErrorKind};
pub(crate) use view::{RuleHit, Step, TraceView};
pub use wire::{
    ApiMessage, Envelope, Extras, Geoloc, Origin, TraceBody, TraceContext, TraceItem, TraceRequest,
    TraceResult,
};
