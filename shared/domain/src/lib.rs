//! The Attest compliance model.
//!
//! Everything here is plain data and pure functions: the vocabulary of API.md, roles and the
//! permission matrix, regulation templates, improvement actions and their instances, the status
//! rules, history entries and scoring. No I/O and no AWS types.

pub mod action;
pub mod alert;
pub mod assessment;
pub mod connector;
pub mod error;
pub mod event;
pub mod evidence;
pub mod group;
pub mod history;
pub mod identity;
pub mod ids;
pub mod imported;
pub mod regulation;
pub mod score;
pub mod signal;
pub mod snapshot;
pub mod vocab;

pub use error::{DomainError, FieldError};
