//! The built-in templates, compiled into the binary from `templates/`.

/// Names of the built-in templates, in the order `templates list` shows them.
pub const BUILTIN_NAMES: &[&str] = &["item-level", "order-level", "chained", "modification"];

const SOURCES: &[(&str, &str, &str)] = &[
    (
        "item-level",
        include_str!("../../templates/item-level.toml"),
        include_str!("../../templates/item-level.csv"),
    ),
    (
        "order-level",
        include_str!("../../templates/order-level.toml"),
        include_str!("../../templates/order-level.csv"),
    ),
    (
        "chained",
        include_str!("../../templates/chained.toml"),
        include_str!("../../templates/chained.csv"),
    ),
    (
        "modification",
        include_str!("../../templates/modification.toml"),
        include_str!("../../templates/modification.csv"),
    ),
];

/// The TOML schema of a built-in template.
pub fn builtin_source(name: &str) -> Option<&'static str> {
    SOURCES.iter().find(|s| s.0 == name).map(|s| s.1)
}

/// The blank CSV of a built-in template.
pub fn blank_csv(name: &str) -> Option<&'static str> {
    SOURCES.iter().find(|s| s.0 == name).map(|s| s.2)
}
