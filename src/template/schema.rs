//! The template file format (TOML) and its resolution into a [`Template`].
//!
//! A file may `extends` a built-in template or another file; its columns replace inherited
//! ones of the same name, and its requirements and conflicts are added to the inherited ones.
//! A column name like `Text{1..50}` stands for `Text1` … `Text50`; `Sku{i}` stands for the
//! columns of items 1 to [`MAX_ITEMS`] (item-level modifications), and a `require` entry with
//! `per_item = true` applies to each item of its own.

use super::{Field, FieldId, Form, Kind, Requirement, Role, Template, ValueType, builtin};
use crate::diagnostic::Code;
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDef {
    name: String,
    #[serde(default)]
    description: String,
    extends: Option<String>,
    kind: Option<Kind>,
    #[serde(default)]
    columns: Vec<ColumnDef>,
    #[serde(default)]
    require: Vec<RequireDef>,
    #[serde(default)]
    conflicts: Vec<[String; 2]>,
    #[serde(default)]
    forms: Vec<Form>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct ColumnDef {
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(rename = "type", default)]
    ty: ValueType,
    digits: Option<u8>,
    precision: Option<u8>,
    scale: Option<u8>,
    #[serde(default)]
    known: Vec<String>,
    max_length: Option<usize>,
    role: Option<Role>,
    #[serde(default)]
    attribution: bool,
    #[serde(default)]
    order_field: bool,
    #[serde(default)]
    no_email: bool,
    forbidden: Option<String>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RequireDef {
    columns: Vec<String>,
    label: Option<String>,
    rows: Option<String>,
    when: Option<String>,
    #[serde(default)]
    per_item: bool,
    unless: Option<String>,
}

/// Default length limit for text (impact.com's API default for strings).
const DEFAULT_TEXT_LENGTH: usize = 255;
/// Default digits for integers (impact.com's API default).
const DEFAULT_DIGITS: u8 = 16;
/// Default decimal type: DECIMAL(8,2) (impact.com's API default).
const DEFAULT_PRECISION: u8 = 8;
const DEFAULT_SCALE: u8 = 2;
/// The items a `Name{i}` column stands for: `Name1` … `Name100`.
pub const MAX_ITEMS: u32 = 100;
/// How an indexed column or requirement names its item.
const ITEM: &str = "{i}";

/// Loads a template by built-in name or from a TOML file path.
pub fn load(name_or_path: &str) -> Result<Template> {
    if let Some(t) = load_builtin(name_or_path) {
        return t;
    }
    let path = Path::new(name_or_path);
    if !path.exists() && !name_or_path.contains(['/', '\\', '.']) {
        bail!(
            "unknown template `{name_or_path}`: use one of {}, `auto`, or the path of a template file",
            builtin::BUILTIN_NAMES.join(", ")
        );
    }
    let mut t = load_path(path, 0)?;
    t.reference = name_or_path.to_string();
    Ok(t)
}

/// A built-in template. They are parsed once per process: `--template auto` and the
/// "column of another template" hint look them up for every file.
fn load_builtin(name: &str) -> Option<Result<Template>> {
    static PARSED: OnceLock<Vec<(&str, Result<Template, String>)>> = OnceLock::new();
    let all = PARSED.get_or_init(|| {
        let parse = |n: &'static str| (n, parse_builtin(n).map_err(|e| format!("{e:#}")));
        builtin::BUILTIN_NAMES.iter().copied().map(parse).collect()
    });
    let (_, parsed) = all.iter().find(|(n, _)| *n == name)?;
    Some(parsed.clone().map_err(anyhow::Error::msg))
}

/// Parses a built-in template and the built-ins it extends, without the cache.
fn parse_builtin(name: &str) -> Result<Template> {
    let src = builtin::builtin_source(name)
        .ok_or_else(|| anyhow::anyhow!("`{name}` is not a built-in template"))?;
    let def: FileDef = toml::from_str(src).map_err(|e| anyhow::anyhow!("{e}"))?;
    let parent = def.extends.as_deref().map(parse_builtin).transpose()?;
    let mut t = resolve(def, parent).map_err(anyhow::Error::msg)?;
    t.reference = name.to_string();
    t.blank = builtin::blank_csv(name).unwrap_or_default().to_string();
    Ok(t)
}

/// The largest template file read.
const MAX_TEMPLATE_BYTES: u64 = 4 << 20;

fn load_path(path: &Path, depth: usize) -> Result<Template> {
    // A template is a few KB: a device, a FIFO or a huge file is not one (and reading it
    // might never end).
    use crate::input::{SmallFileError, read_small};
    let cannot =
        |why: String| anyhow::anyhow!("cannot read template file {}: {why}", path.display());
    let bytes = match read_small(path, MAX_TEMPLATE_BYTES) {
        Ok(Some(b)) => b,
        Ok(None) => return Err(cannot("no such file".into())),
        Err(SmallFileError::Io(e)) => return Err(cannot(e.to_string())),
        Err(SmallFileError::NotRegular) => return Err(cannot("not a regular file".into())),
        Err(SmallFileError::Changed) => return Err(cannot("it changed while it was read".into())),
        Err(SmallFileError::TooLarge) => {
            return Err(cannot(format!("over {} MiB", MAX_TEMPLATE_BYTES >> 20)));
        }
    };
    let text = String::from_utf8(bytes).map_err(|_| cannot("not UTF-8 text".into()))?;
    from_source(&text, Some(path), depth)
        .with_context(|| format!("in template file {}", path.display()))
}

fn from_source(text: &str, path: Option<&Path>, depth: usize) -> Result<Template> {
    if depth > 8 {
        bail!("`extends` goes more than 8 templates deep (a loop?)");
    }
    let def: FileDef = toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let parent = match &def.extends {
        Some(base) => Some(load_parent(base, path, depth)?),
        None => None,
    };
    resolve(def, parent).map_err(|e| anyhow::anyhow!(e))
}

fn load_parent(base: &str, path: Option<&Path>, depth: usize) -> Result<Template> {
    if let Some(t) = load_builtin(base) {
        return t;
    }
    let dir = path.and_then(Path::parent).unwrap_or(Path::new("."));
    let target: PathBuf = dir.join(base);
    load_path(&target, depth + 1)
}

fn resolve(def: FileDef, parent: Option<Template>) -> Result<Template, String> {
    let mut t = parent.unwrap_or_else(|| Template {
        name: String::new(),
        description: String::new(),
        kind: Kind::Order,
        fields: vec![],
        requirements: vec![],
        conflicts: vec![],
        blank: String::new(),
        forms: vec![],
        reference: String::new(),
        lookup: Default::default(),
    });
    t.name = def.name;
    if !def.description.is_empty() {
        t.description = def.description;
    }
    if let Some(k) = def.kind {
        t.kind = k;
    }
    for col in &def.columns {
        for field in expand(col)? {
            match t
                .fields
                .iter()
                .position(|f| f.name.eq_ignore_ascii_case(&field.name))
            {
                Some(i) => t.fields[i] = field,
                None => t.fields.push(field),
            }
        }
    }
    let mut t = t.index()?;
    for r in &def.require {
        if r.per_item {
            for i in 1..=MAX_ITEMS {
                let req = requirement(&t, &for_item(r, i), Some(i))?;
                t.requirements.push(req);
            }
        } else {
            let req = requirement(&t, r, None)?;
            t.requirements.push(req);
        }
    }
    t.forms.extend(def.forms);
    for [a, b] in &def.conflicts {
        let pair = (field_id(&t, a)?, field_id(&t, b)?);
        t.conflicts.push(pair);
    }
    include_attribution_keys(&mut t);
    t.blank = blank_with_required(&t);
    Ok(t)
}

/// Every column marked `attribution = true` (inherited or added) is one of the keys the
/// `no-attribution-key` requirement accepts.
fn include_attribution_keys(t: &mut Template) {
    for i in 0..t.requirements.len() {
        if t.requirements[i].rows != Some(Code::NoAttributionKey) {
            continue;
        }
        for (id, f) in t.fields.iter().enumerate() {
            let known = t.requirements[i].alternatives.iter().any(|a| a == &[id]);
            if f.attribution && !known {
                t.requirements[i].alternatives.push(vec![id]);
            }
        }
        let r = &t.requirements[i];
        t.requirements[i].label = label(t, &r.alternatives, r.name.as_deref());
    }
}

/// The blank CSV: the inherited one (if any) with every required column it lacks added, so a
/// file started from it has all the columns the template requires.
fn blank_with_required(t: &Template) -> String {
    let mut names: Vec<String> = t
        .blank
        .lines()
        .next()
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(String::from).collect())
        .unwrap_or_default();
    for r in &t.requirements {
        if r.when.is_some() || r.item.is_some() {
            continue;
        }
        let satisfied = r.alternatives.iter().any(|alt| {
            alt.iter().all(|&id| {
                names
                    .iter()
                    .any(|n| t.find(n).is_some_and(|m| m.id() == id))
            })
        });
        if !satisfied {
            names.extend(
                r.alternatives[0]
                    .iter()
                    .map(|&id| t.fields[id].name.clone()),
            );
        }
    }
    format!("{}\n", names.join(","))
}

/// Expands `Name{1..3}` into `Name1`, `Name2`, `Name3` (aliases likewise), and `Name{i}`
/// into the columns of every item.
fn expand(col: &ColumnDef) -> Result<Vec<Field>, String> {
    let Some((prefix, rest)) = col.name.split_once('{') else {
        return Ok(vec![field(col, &col.name, &col.aliases)?]);
    };
    if rest == "i}" {
        return (1..=MAX_ITEMS)
            .map(|i| {
                let n = i.to_string();
                let aliases: Vec<String> =
                    col.aliases.iter().map(|a| a.replace(ITEM, &n)).collect();
                let mut f = field(col, &format!("{prefix}{n}"), &aliases)?;
                f.item = Some(i);
                Ok(f)
            })
            .collect();
    }
    let range = rest.strip_suffix('}').and_then(|r| r.split_once(".."));
    let parsed = range.and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)));
    let Some((lo, hi)) = parsed.filter(|(lo, hi)| lo <= hi && hi - lo < 1000) else {
        return Err(format!(
            "column `{}`: write a range as Name{{1..10}}",
            col.name
        ));
    };
    (lo..=hi)
        .map(|n| {
            let aliases: Vec<String> = col
                .aliases
                .iter()
                .map(|a| a.replacen(&format!("{{{lo}..{hi}}}"), &n.to_string(), 1))
                .collect();
            field(col, &format!("{prefix}{n}"), &aliases)
        })
        .collect()
}

fn field(col: &ColumnDef, name: &str, aliases: &[String]) -> Result<Field, String> {
    if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == ',') {
        return Err(format!(
            "column name `{name}` must be non-empty, without spaces or commas"
        ));
    }
    let text_limit = (col.ty == ValueType::Text).then_some(DEFAULT_TEXT_LENGTH);
    Ok(Field {
        name: name.to_string(),
        aliases: aliases.to_vec(),
        ty: col.ty,
        digits: col.digits.unwrap_or(DEFAULT_DIGITS),
        precision: col.precision.unwrap_or(DEFAULT_PRECISION),
        scale: col.scale.unwrap_or(DEFAULT_SCALE),
        item: None,
        known: col.known.clone(),
        max_length: col.max_length.or(text_limit),
        role: col.role,
        attribution: col.attribution,
        order_field: col.order_field,
        no_email: col.no_email,
        forbidden: col.forbidden.clone(),
    })
}

fn field_id(t: &Template, name: &str) -> Result<FieldId, String> {
    t.lookup
        .get(&name.to_ascii_lowercase())
        .copied()
        .ok_or_else(|| format!("`{name}` is not a column of this template"))
}

/// A `per_item` requirement for item `i`: `{i}` replaced by the item's number.
fn for_item(r: &RequireDef, i: u32) -> RequireDef {
    let n = i.to_string();
    RequireDef {
        columns: r.columns.iter().map(|c| c.replace(ITEM, &n)).collect(),
        label: r.label.clone(),
        rows: r.rows.clone(),
        when: r.when.as_ref().map(|w| w.replace(ITEM, &n)),
        per_item: false,
        unless: r.unless.clone(),
    }
}

/// The alternatives of a `require` entry. An alternative `Name{i}` (outside `per_item`)
/// is met by the column of any item.
fn alternatives(t: &Template, r: &RequireDef) -> Result<Vec<Vec<FieldId>>, String> {
    let mut out = vec![];
    for alt in &r.columns {
        let names: Vec<&str> = alt.split('+').map(str::trim).collect();
        if !alt.contains(ITEM) {
            out.push(
                names
                    .iter()
                    .map(|n| field_id(t, n))
                    .collect::<Result<_, _>>()?,
            );
            continue;
        }
        for i in 1..=MAX_ITEMS {
            let n = i.to_string();
            let ids = names.iter().map(|c| field_id(t, &c.replace(ITEM, &n)));
            out.push(ids.collect::<Result<_, _>>()?);
        }
    }
    Ok(out)
}

/// `Name=VALUE`: the field and the value.
fn unless(t: &Template, text: &str) -> Result<(FieldId, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`unless = \"{text}\"`: write it as Column=VALUE"))?;
    Ok((field_id(t, name.trim())?, value.trim().to_string()))
}

fn requirement(t: &Template, r: &RequireDef, item: Option<u32>) -> Result<Requirement, String> {
    let alternatives = alternatives(t, r)?;
    if alternatives.is_empty() {
        return Err("a `require` entry needs at least one column".into());
    }
    let rows = match r.rows.as_deref() {
        None => None,
        Some("missing-value") => Some(Code::MissingValue),
        Some("no-attribution-key") => Some(Code::NoAttributionKey),
        Some(other) => {
            return Err(format!(
                "`rows = \"{other}\"`: use \"missing-value\" or \"no-attribution-key\""
            ));
        }
    };
    let when = r.when.as_deref().map(|w| field_id(t, w)).transpose()?;
    let label = if r.columns.iter().any(|c| c.contains(ITEM)) {
        written_label(&r.columns, r.label.as_deref())
    } else {
        label(t, &alternatives, r.label.as_deref())
    };
    Ok(Requirement {
        label,
        name: r.label.clone(),
        alternatives,
        rows,
        when,
        item,
        unless: r.unless.as_deref().map(|u| unless(t, u)).transpose()?,
    })
}

/// `name (columns)`, or the columns alone.
fn named(names: String, name: Option<&str>) -> String {
    match name {
        Some(n) => format!("{n} ({names})"),
        None => names,
    }
}

/// A label in the template's own words, for alternatives that stand for many columns.
fn written_label(columns: &[String], name: Option<&str>) -> String {
    let names = columns
        .iter()
        .map(|c| format!("`{}`", c.replace('+', "` with `")))
        .collect::<Vec<_>>()
        .join(" or ");
    named(names, name)
}

/// `an event type (`ActionTrackerId` or `EventTypeCode`)`, for messages.
fn label(t: &Template, alternatives: &[Vec<FieldId>], name: Option<&str>) -> String {
    let names = alternatives
        .iter()
        .map(|alt| {
            alt.iter()
                .map(|&id| format!("`{}`", t.fields[id].name))
                .collect::<Vec<_>>()
                .join(" with ")
        })
        .collect::<Vec<_>>()
        .join(" or ");
    named(names, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Template> {
        from_source(text, None, 0)
    }

    #[test]
    fn ranges_expand_with_their_aliases() {
        let t = parse(
            r#"name = "t"
            columns = [{ name = "Text{1..3}", aliases = ["Txt{1..3}"], max_length = 64 }]"#,
        )
        .unwrap();
        let names: Vec<_> = t.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["Text1", "Text2", "Text3"]);
        assert_eq!(t.fields[2].aliases, ["Txt3"]);
        assert_eq!(t.fields[0].max_length, Some(64));
    }

    #[test]
    fn extends_a_builtin_and_overrides_a_column() {
        let t = parse(
            r#"name = "mine"
            extends = "order-level"
            columns = [{ name = "Text51", max_length = 64 }, { name = "Note", max_length = 10 }]
            require = [{ columns = ["Text51"], rows = "missing-value" }]"#,
        )
        .unwrap();
        assert_eq!(t.name, "mine");
        assert_eq!(t.kind, Kind::Order);
        let note = t.fields.iter().find(|f| f.name == "Note").unwrap();
        assert_eq!(note.max_length, Some(10));
        assert!(t.find("text51").is_some());
        assert_eq!(t.requirements.last().unwrap().label, "`Text51`");
        assert!(t.blank.starts_with("CampaignId,"));
    }

    #[test]
    fn errors_name_the_problem() {
        let unknown_key = parse("name = \"t\"\ncolour = 1").unwrap_err().to_string();
        assert!(unknown_key.contains("colour"), "{unknown_key}");
        let bad_ref = parse("name = \"t\"\nrequire = [{ columns = [\"Nope\"] }]").unwrap_err();
        assert!(bad_ref.to_string().contains("`Nope` is not a column"));
        let clash = parse(
            r#"name = "t"
            columns = [{ name = "A", aliases = ["B"] }, { name = "B" }]"#,
        );
        assert!(clash.unwrap_err().to_string().contains("names both"));
        assert!(
            load("no-such-template")
                .unwrap_err()
                .to_string()
                .contains("unknown template")
        );
    }

    #[test]
    fn builtins_load() {
        for name in builtin::BUILTIN_NAMES {
            let t = load(name).unwrap();
            assert_eq!(&t.name, name);
            assert!(!t.requirements.is_empty());
        }
    }

    #[test]
    fn item_columns_and_per_item_requirements() {
        let t = load("modification").unwrap();
        let sku = |i: u32| t.find(&format!("Sku{i}")).map(|m| t.fields[m.id()].item);
        assert_eq!(sku(1), Some(Some(1)));
        assert_eq!(sku(MAX_ITEMS), Some(Some(MAX_ITEMS)));
        assert_eq!(sku(MAX_ITEMS + 1), None);
        let per_item = t.requirements.iter().filter(|r| r.item == Some(7)).count();
        assert_eq!(per_item, 2);
        let amount = t.requirements.iter().find(|r| r.unless.is_some()).unwrap();
        assert_eq!(amount.label, "`Amount` or `Sku{i}`");
        assert_eq!(amount.alternatives.len(), 1 + MAX_ITEMS as usize);
        assert_eq!(t.forms.len(), 2);
        let bad = parse(
            "name = \"t\"\ncolumns = [{ name = \"A\" }]\nrequire = [{ columns = [\"A\"], unless = \"A\" }]",
        );
        assert!(bad.unwrap_err().to_string().contains("Column=VALUE"));
    }
}
