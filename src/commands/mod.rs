//! One module per subcommand; each is glue between the CLI and the library.

pub mod templates;
pub mod validate;
