//! `convsubmit templates` and user-defined templates (`--template PATH`).

use crate::model;
use crate::util::TestEnv;

fn source(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("templates")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn list_names_every_builtin_template() {
    let out = TestEnv::new().run(&["templates", "list"]);
    out.assert_code(0);
    let names: Vec<&str> = out
        .stdout
        .lines()
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        names,
        ["item-level", "order-level", "chained", "modification"]
    );
    for line in out.stdout.lines().take(4) {
        assert!(
            line.split_whitespace().count() > 2,
            "no description: {line}"
        );
    }
}

#[test]
fn show_prints_the_blank_csv_and_the_schema() {
    let env = TestEnv::new();
    for name in ["item-level", "order-level", "chained", "modification"] {
        let blank = env.run(&["templates", "show", name]);
        blank.assert_code(0);
        assert_eq!(blank.stdout, source(&format!("{name}.csv")), "{name}");
        let schema = env.run(&["templates", "show", name, "--schema"]);
        schema.assert_code(0);
        assert_eq!(schema.stdout, source(&format!("{name}.toml")), "{name}");
    }
    let out = env.run(&["templates", "show", "nope"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("unknown template `nope`"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_blank_template_has_a_header_its_own_template_accepts() {
    let env = TestEnv::new();
    for name in ["item-level", "order-level", "chained", "modification"] {
        let blank = env.run(&["templates", "show", name]).stdout;
        let f = env.write("blank.csv", blank);
        let out = env.validate(&["--format", "json", "--template", name, f]);
        let report = model::parse_json(&out.stdout);
        let codes: Vec<(u64, String)> = report.files[0].findings();
        assert_eq!(codes, [(0, "no-rows".to_string())], "{name}");
    }
}

/// A user template adding two typed columns to item-level.
const CUSTOM: &str = r#"
name = "acme-items"
description = "Item-level with Acme's custom columns"
extends = "item-level"
columns = [
  { name = "LoyaltyTier", max_length = 8 },
  { name = "Points", type = "integer" },
]
"#;

const CUSTOM_CSV: &str = "\
CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,Amount,Category,Sku,Quantity,LoyaltyTier,Points
18543,27015,2026-06-20T12:00:00Z,ORD-1,c1,10.00,Books,SKU-1,1,gold,120
18543,27015,2026-06-20T12:00:00Z,ORD-2,c1,10.00,Books,SKU-1,1,platinum-plus,ten
18543,27015,2026-06-20T12:00:00Z,ORD-3,c1,10.00,Books,SKU-1,1,,
";

#[test]
fn a_custom_template_accepts_and_checks_its_columns() {
    let env = TestEnv::new();
    env.write("acme.toml", CUSTOM);
    let f = env.write("acme.csv", CUSTOM_CSV);

    let builtin = model::parse_json(&env.validate(&["--format", "json", f]).stdout);
    assert_eq!(
        builtin.files[0].findings(),
        [
            (1, "unknown-column".to_string()),
            (1, "unknown-column".to_string())
        ],
        "without the template the columns are unknown"
    );

    let out = env.validate(&["--format", "json", "--template", "acme.toml", f]);
    out.assert_code(1);
    let file = &model::parse_json(&out.stdout).files[0];
    assert_eq!(file.template.as_deref(), Some("acme-items"));
    let got: Vec<_> = file
        .diagnostics
        .iter()
        .map(|d| {
            (
                d.line,
                d.code.as_str(),
                d.column.as_deref(),
                d.value.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                Some(3),
                "value-too-long",
                Some("LoyaltyTier"),
                Some("platinum-plus")
            ),
            (Some(3), "invalid-integer", Some("Points"), Some("ten")),
        ]
    );
}

#[test]
fn a_custom_template_keeps_the_inherited_rules() {
    let env = TestEnv::new();
    env.write("acme.toml", CUSTOM);
    let f = env.copy_fixture("item-level-errors.csv");
    let custom = env.validate(&["--format", "json", "--template", "acme.toml", f]);
    let builtin = env.validate(&["--format", "json", f]);
    let findings = |out: &crate::util::Output| model::parse_json(&out.stdout).files[0].findings();
    assert_eq!(findings(&custom), findings(&builtin));
    assert_eq!(custom.code, 1);
}

#[test]
fn broken_template_files_are_usage_errors() {
    let env = TestEnv::new();
    let f = env.copy_fixture("item-level-valid.csv");
    let cases = [
        ("syntax.toml", "name = \n", "TOML"),
        ("unknown-key.toml", "name = \"t\"\ncolour = 1\n", "colour"),
        (
            "bad-extends.toml",
            "name = \"t\"\nextends = \"no-such-parent.toml\"\n",
            "no-such-parent.toml",
        ),
        (
            "bad-require.toml",
            "name = \"t\"\nextends = \"order-level\"\nrequire = [{ columns = [\"Nope\"] }]\n",
            "`Nope` is not a column",
        ),
        (
            "loop.toml",
            "name = \"t\"\nextends = \"loop.toml\"\n",
            "extends",
        ),
    ];
    for (name, text, why) in cases {
        env.write(name, text);
        let out = env.validate(&["--template", name, f]);
        assert_eq!(out.code, 2, "{name}: {out:#?}");
        assert_eq!(out.stdout, "", "{name}");
        assert!(out.stderr.contains(why), "{name}: {}", out.stderr);
        let show = env.run(&["templates", "show", name]);
        assert_eq!(show.code, 2, "templates show {name}");
    }
}

#[test]
fn show_auto_says_auto_is_a_choice_of_template_not_a_template() {
    let env = TestEnv::new();
    for schema in [false, true] {
        let mut args = vec!["templates", "show", "auto"];
        if schema {
            args.push("--schema");
        }
        let out = env.run(&args);
        out.assert_code(2);
        assert!(
            out.stderr.contains(
                "unknown template `auto`: use one of item-level, order-level, chained, modification"
            ),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("--template auto"), "{}", out.stderr);
    }
    // Another unknown name is not offered `auto` as something to show.
    let out = env.run(&["templates", "show", "nope"]);
    out.assert_code(2);
    assert!(!out.stderr.contains("`auto`"), "{}", out.stderr);
}

#[test]
fn show_modification_prints_its_reset_and_item_level_forms() {
    let env = TestEnv::new();
    let out = env.run(&["templates", "show", "modification"]);
    out.assert_code(0);
    assert_eq!(out.stdout, source("modification.csv"));
    let forms: Vec<&str> = out.stderr.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(forms.len(), 2, "{}", out.stderr);
    for header in forms {
        let f = env.write("form.csv", format!("{header}\n"));
        let report = model::parse_json(&env.validate(&["--format", "json", f]).stdout);
        assert_eq!(
            report.files[0].template.as_deref(),
            Some("modification"),
            "{header}"
        );
        assert_eq!(
            report.files[0].findings(),
            [(0, "no-rows".to_string())],
            "{header}"
        );
    }
    let quiet = env.run(&["--quiet", "templates", "show", "modification"]);
    assert_eq!(quiet.stderr, "");
}
