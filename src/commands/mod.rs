//! One module per subcommand; each is glue between the CLI and the library.

pub mod fix;
pub mod split;
pub mod templates;
pub mod validate;
