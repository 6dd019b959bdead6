//! The Conversions API client: the HTTP calls of `push --api` and `status`, the form of a
//! conversion, and the `[api]` settings. Leaves: nothing here knows of the push use case.

pub mod client;
pub mod form;
pub mod settings;
