//! Bounds on what a run may leave, read or wait for (spec §7 "Bounded"): work folders of
//! killed runs are removed (safely), state files are read only when regular and small,
//! `--max-time` bounds reading the input too, and no `--max-time` value panics.

use crate::util::{AS_OF, TestEnv};

const HEADER: &str = "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,Amount";

fn small_input(env: &TestEnv) -> &'static str {
    env.write(
        "in.csv",
        format!("{HEADER}\n18543,27015,2026-06-20T12:00:00Z,ORD-1,c1,1.00\n"),
    )
}

/// The largest values clap accepts and the largest an `i64` holds: either overflowed
/// `Instant + Duration` ("overflow when adding duration to instant", exit 101).
const HUGE: [&str; 2] = ["18446744073709551615", "9223372036854775807"];

#[test]
fn a_huge_max_time_never_panics() {
    let env = TestEnv::new();
    let input = small_input(&env);
    std::fs::create_dir(env.path().join("dest")).unwrap();
    // A port nothing listens on: the network channels fail at once, temporarily.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    env.write("known_hosts", "");
    env.write(
        "convsubmit.toml",
        format!(
            "[sftp]\nhost = \"127.0.0.1\"\nport = {port}\nusername = \"u\"\npassword_env = \"TEST_PW\"\nknown_hosts = \"known_hosts\"\n\
             [ftp]\nhost = \"127.0.0.1\"\nport = {port}\nusername = \"u\"\npassword_env = \"TEST_PW\"\n"
        ),
    );
    for max in HUGE {
        let push = |channel: &[&'static str]| {
            let mut a = vec![
                "push",
                "--as-of",
                AS_OF,
                "--ledger",
                "ledger.sqlite",
                "--retries",
                "0",
                "--max-time",
                max,
            ];
            a.extend_from_slice(channel);
            a.push(input);
            a
        };
        let runs: [(Vec<&str>, i32); 6] = [
            (push(&["--dir", "dest", "--force"]), 0),
            (push(&["--sftp"]), 3),
            (push(&["--ftp"]), 3),
            (vec!["doctor", "--dir", "dest", "--max-time", max], 0),
            (vec!["doctor", "--sftp", "--max-time", max], 3),
            (vec!["doctor", "--ftp", "--max-time", max], 3),
        ];
        for (args, code) in runs {
            // `run_env` fails on "panicked" in stderr; the code shows any other abort.
            let out = env.run_env(&args, &[("TEST_PW", "x")]);
            assert!(!out.stderr.contains("overflow"), "{args:?}: {out:#?}");
            assert_eq!(out.code, code, "{args:?}: {out:#?}");
        }
    }
}
