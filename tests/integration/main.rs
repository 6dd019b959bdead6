//! Integration tests: the real `convsubmit` binary on the fixtures in `fixtures/`.
//!
//! `UPDATE_SNAPSHOTS=1 cargo test --test integration` rewrites `fixtures/expected/`; review
//! every changed file before keeping it.

mod api_trust;
mod bounds;
mod closed_output;
mod colour;
mod completions;
mod contract;
mod crash;
mod docs;
mod faults;
mod fix;
mod formats;
mod fuzz_regressions;
mod generate;
mod hostile;
mod huge;
mod interop;
mod interop_html;
mod interop_pg;
mod invariants;
mod layers;
mod ledger;
mod model;
mod overwrite;
mod pgp;
mod properties;
mod push;
mod push_api;
mod push_contract;
mod push_email;
mod push_ftp;
mod robustness;
mod secrets;
#[allow(dead_code)]
mod servers;
mod sftp_auth;
#[path = "../../src/snapshot.rs"]
mod snapshot;
mod split;
mod status;
mod templates;
mod trust;
mod util;
mod validate;
