//! Rulesets: the API's JSON model ([`model`]), phases and their actions ([`phases`]), the
//! trace shape ([`shape`]) and the phase evaluator that runs a request through a project's
//! rulesets offline and returns a trace in the live API's shape ([`eval`]).

pub mod eval;
pub mod model;
pub mod phases;
pub mod shape;

pub use eval::{Extras, Origin, evaluate};

#[cfg(test)]
mod tests;
