//! One module per subcommand; each is glue between the CLI and the library.

pub mod completions;
pub mod doctor;
pub mod fix;
pub mod history;
pub mod man;
pub mod push;
pub mod shared;
pub mod split;
pub mod status;
pub mod templates;
pub mod validate;
