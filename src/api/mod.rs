//! The Conversions API channel (`push --api`) and the submission-status calls (`status`).

pub mod client;
pub mod form;
pub mod pace;
pub mod push;
pub mod settings;
