//! Use cases: what a route asks of the domain and the store, free of HTTP types.

pub mod actions;
pub mod catalog;
pub mod evidence;
pub mod views;
pub mod workspace;
