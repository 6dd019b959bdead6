//! Property tests of the invariants in `invariants.rs` on generated CSV-ish files: validation
//! never panics and points inside the input, split conserves rows and never cuts an order,
//! fix is idempotent, and the config parser answers any text. Case counts are kept small so
//! that `cargo test` stays quick; `scripts/fuzz` explores the same invariants at length.

use crate::generate::{self, Spec};
use crate::invariants;
use crate::util::TestEnv;
use proptest::prelude::*;

/// Cells that stress the tokenizer, the value parsers and the order rules.
const CELLS: &[&str] = &[
    "",
    "18543",
    "27015",
    "ORD-1",
    "ORD-2",
    "2026-06-20T12:00:00Z",
    "2026-06-20",
    "2025-01-01T00:00:00+05",
    "NOW",
    "USD",
    "usd",
    "10.00",
    "\"1,000.00\"",
    "-1",
    "9999999999999999999",
    "true",
    "jane@example.com",
    "e2d6a40c8b4d3e6a2779ba1802ef29d13940a051",
    "\"a\nb\"",
    "\"\"",
    "\"",
    "x\"y",
    "\"q\"z",
    " ",
    "\u{202e}",
    "\u{0}",
    "\u{7f}",
    "CampaignId",
    "OrderId",
    "campaignid",
    // What fix repairs, and what it must leave.
    " usd ",
    "\teur",
    "xxx",
    "\"1,234.56\"",
    "\"-12,345,678.90\"",
    "\"10,5\"",
    "\"1,000\"",
    " 10.00",
    "\" ORD-1 \"",
    "ORD-1 ",
];

const HEADERS: &[&str] = &[
    generate::HEADER,
    "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,Amount",
    "CampaignId,EventTypeId,EventDate,OrderId,CustomerId,Amount,Sku",
    "CampaignId,ActionId,Reason,Amount,OrderId",
    "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,Amount,CurrencyCode,Sku,Category,Quantity",
    "",
];

/// Wide encodings `fix` converts (with their byte-order marks).
const WIDE: &[&str] = &["UTF-16LE", "UTF-16BE", "UTF-32LE", "UTF-32BE"];

/// `text` in a wide encoding, with its byte-order mark; bytes that are not UTF-8 become
/// U+FFFD first.
fn widened(text: &[u8], name: &str) -> Vec<u8> {
    let text = format!("\u{feff}{}", String::from_utf8_lossy(text));
    match name {
        "UTF-16LE" => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        "UTF-16BE" => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        "UTF-32LE" => text
            .chars()
            .flat_map(|c| u32::from(c).to_le_bytes())
            .collect(),
        _ => text
            .chars()
            .flat_map(|c| u32::from(c).to_be_bytes())
            .collect(),
    }
}

const NEWLINES: &[&str] = &["\n", "\r\n", "\r"];

/// A header from `HEADERS` (or none), then rows of `CELLS` of random widths, with mixed line
/// breaks; sometimes with a byte-order mark, stray bytes or a cut at a random place.
fn csvish() -> impl Strategy<Value = Vec<u8>> {
    let row = prop::collection::vec(prop::sample::select(CELLS), 0..8);
    (
        prop::sample::select(HEADERS),
        prop::collection::vec((row, prop::sample::select(NEWLINES)), 0..12),
        any::<bool>(),
        prop::option::of((any::<prop::sample::Index>(), any::<u8>())),
        prop::option::of(any::<prop::sample::Index>()),
        prop::option::of(prop::sample::select(WIDE)),
    )
        .prop_map(|(header, rows, bom, stray, cut, wide)| {
            let mut out = Vec::new();
            if bom {
                out.extend_from_slice(b"\xef\xbb\xbf");
            }
            out.extend_from_slice(header.as_bytes());
            out.push(b'\n');
            for (cells, newline) in rows {
                out.extend_from_slice(cells.join(",").as_bytes());
                out.extend_from_slice(newline.as_bytes());
            }
            if let Some((at, byte)) = stray {
                out.insert(at.index(out.len() + 1), byte);
            }
            if let Some(at) = cut {
                out.truncate(at.index(out.len() + 1));
            }
            match wide {
                Some(name) => widened(&out, name),
                None => out,
            }
        })
}

/// Item-level files from the shared generator, with damage, odd line breaks and quoted
/// line breaks chosen by the strategy.
fn generated() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<u64>(),
        1usize..40,
        0u32..400,
        0u32..400,
        0u32..200,
        prop::sample::select(NEWLINES),
        any::<bool>(),
    )
        .prop_map(
            |(seed, rows, bad, scattered, plain_emails, newline, multiline)| {
                let spec = Spec {
                    bad,
                    scattered,
                    plain_emails,
                    newline,
                    multiline,
                    ..Spec::clean(seed, rows)
                };
                generate::item_level(&spec).into_bytes()
            },
        )
}

fn files() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![csvish(), generated()]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn validate_never_panics_and_points_inside_the_input(input in files()) {
        invariants::check_validate(&input);
    }

    #[test]
    fn config_text_is_a_config_or_an_error(text in config_text()) {
        invariants::check_config(&text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn split_conserves_rows_and_never_cuts_an_order(input in files(), choice in any::<u8>()) {
        let env = TestEnv::new();
        invariants::check_split(&input, choice, &env.path().join("out"));
    }

    #[test]
    fn fix_is_idempotent(input in files(), choice in any::<u8>()) {
        let env = TestEnv::new();
        invariants::check_fix(&input, choice, env.path());
    }
}

/// TOML-ish text: known sections and keys with values of right and wrong types, and noise.
fn config_text() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(
        &[
            "[sftp]",
            "[ftp]",
            "[email]",
            "[api]",
            "[ledger]",
            "[sfpt]",
            "host = \"h\"",
            "port = 22",
            "port = 70000",
            "port = \"22\"",
            "password_env = \"P\"",
            "password_file = \"~/p\"",
            "password_command = \"pass x\"",
            "cc = [\"a@b.c\"]",
            "cc = \"a\"",
            "path = \"~\"",
            "path = \"../l\"",
            "concurrency = -1",
            "max_attachment_bytes = 1e3",
            "rename = false",
            "auth_token_env = \"T\"",
            "key_file = \"k\"",
            "= 1",
            "\"",
            "[[api]]",
            "a.b = 1",
            "\u{0}",
        ][..],
    );
    prop::collection::vec(piece, 0..10).prop_map(|p| p.join("\n"))
}
