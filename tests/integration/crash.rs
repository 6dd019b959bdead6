//! Crash safety, every channel: runs killed (SIGKILL) at random points, then one clean run.
//! What the server received is counted per unit (a part for the file channels, a message for
//! email, an order for the API): nothing may be missing, and a unit may arrive again only
//! within the window the channel documents (docs/delivery.md):
//!
//! - folder, SFTP, FTP: never (the ledger's note plus the size check on the server);
//! - email: at most one part per killed run (killed after the final 250, before the record);
//! - API: at most the requests in flight per killed run (one per worker).

use crate::generate::{self, Spec};
use crate::push::{expected_parts, files_in, sftp_config};
use crate::servers::api::{ApiOptions, ApiServer};
use crate::servers::ftp::{FtpOptions, FtpServer};
use crate::servers::sftp::{SftpOptions, SftpServer};
use crate::servers::smtp::{SmtpOptions, SmtpServer};
use crate::util::{AS_OF, Rng, TestEnv};
use mail_parser::{MessageParser, MimeHeaders};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::os::unix::fs::MetadataExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Runs killed per channel.
const TRIALS: usize = 50;

/// Small parts, so that every one of the trials still finds parts left to deliver: a fast
/// run delivers many parts before a kill lands, and trials after the last part only finish.
const MAX_ROWS: &str = "10";

/// One channel under test.
pub struct Channel<'a> {
    pub name: &'a str,
    pub env: &'a TestEnv,
    /// `push …` as the killed runs and the clean re-run use it.
    pub args: Vec<&'a str>,
    pub vars: Vec<(&'a str, &'a str)>,
    /// When the kill lands, in milliseconds after the start.
    pub window: Range<u64>,
    pub seed: u64,
    /// What must arrive: part names, or order ids.
    pub want: BTreeSet<String>,
    /// Repeats one killed run may cause.
    pub repeats_per_kill: usize,
}

impl<'a> Channel<'a> {
    /// `push --ledger ledger.sqlite -q CHANNEL --max-rows 20 many.csv`, killed 20–400 ms in.
    fn new(name: &'a str, env: &'a TestEnv, channel: &'a [&'a str], seed: u64) -> Self {
        let mut args = vec!["push", "--as-of", AS_OF, "--ledger", "ledger.sqlite", "-q"];
        args.extend_from_slice(channel);
        args.extend_from_slice(&["--max-rows", MAX_ROWS, "many.csv"]);
        Channel {
            name,
            env,
            args,
            vars: vec![],
            window: 20..400,
            seed,
            want: BTreeSet::new(),
            repeats_per_kill: 0,
        }
    }
}

/// What the trials of one channel showed.
#[derive(Debug, Default)]
pub struct Figures {
    trials: usize,
    /// Killed while there was still something to send and before anything new arrived.
    killed_before_sending: usize,
    /// Killed after some units of this run had arrived.
    killed_mid_delivery: usize,
    /// Killed after the server had a part complete and before the ledger recorded it (the
    /// ledger's note names a part the server has): the window the note is for.
    killed_before_record: usize,
    /// Killed after everything had arrived (validating, or skipping recorded parts).
    killed_after_everything: usize,
    /// Ended on their own before the kill.
    finished: usize,
    delivered: usize,
    repeats: usize,
    lost: usize,
}

/// Kills `TRIALS` runs, re-runs once, and checks what `count` (deliveries per unit, as the
/// server saw them) says.
///
/// Half the kills land at a random time in `window`, or at the run's first delivery if that
/// comes sooner (start-up, validation, splitting, the ledger, connecting: wherever the run is
/// by then); the other half once the server has seen
/// 1–3 new deliveries from the run, plus 0–10 ms, so that they hit delivery whatever the
/// machine's load (including between the server's confirmation and the ledger's record).
pub fn crash_and_rerun(
    ch: &Channel,
    mut count: impl FnMut() -> BTreeMap<String, usize>,
) -> Figures {
    use std::os::unix::process::ExitStatusExt;
    let started = Instant::now();
    let mut f = Figures {
        trials: TRIALS,
        ..Figures::default()
    };
    let mut rng = Rng::new(ch.seed);
    let mut arrived = 0;
    let mut last = BTreeMap::new();
    for trial in 0..TRIALS {
        let mut child = ch
            .env
            .command(&ch.args)
            .envs(ch.vars.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        if trial % 2 == 0 {
            // A random time, or the first new delivery if that comes sooner: a run that got
            // going would otherwise deliver everything, and the later trials would find
            // nothing left to interrupt.
            let span = (ch.window.end - ch.window.start) as usize;
            let ms = ch.window.start + rng.below(span) as u64;
            let until = Instant::now() + Duration::from_millis(ms);
            while child.try_wait().unwrap().is_none()
                && Instant::now() < until
                && count().values().sum::<usize>() <= arrived
            {
                std::thread::sleep(Duration::from_millis(2));
            }
        } else {
            let more = 1 + rng.below(3);
            let limit = Instant::now() + Duration::from_secs(30);
            while child.try_wait().unwrap().is_none()
                && Instant::now() < limit
                && count().values().sum::<usize>() < arrived + more
            {
                std::thread::sleep(Duration::from_millis(2));
            }
            std::thread::sleep(Duration::from_millis(rng.below(10) as u64));
        }
        let _ = child.kill();
        let status = child.wait().unwrap();
        let killed = status.signal() == Some(9);
        assert!(
            killed || status.success(),
            "{}: a run failed: {status}",
            ch.name
        );
        let counts = count();
        let now: usize = counts.values().sum();
        let complete = ch.want.iter().all(|u| counts.contains_key(u));
        // A note older than this trial names a part an earlier kill left: not this one's.
        let arrived_now = |n: &String| counts.get(n) > last.get(n);
        if killed && noted(ch.env).iter().any(arrived_now) {
            f.killed_before_record += 1;
        }
        match (killed, now > arrived) {
            (false, _) => f.finished += 1,
            (true, true) => f.killed_mid_delivery += 1,
            (true, false) if complete => f.killed_after_everything += 1,
            (true, false) => f.killed_before_sending += 1,
        }
        arrived = now;
        last = counts;
    }
    let mut cmd = ch.env.command(&ch.args);
    for (k, v) in &ch.vars {
        cmd.env(k, v);
    }
    crate::util::finish(cmd).assert_code(0);
    let counts = count();
    let missing: Vec<&String> = ch
        .want
        .iter()
        .filter(|u| !counts.contains_key(*u))
        .collect();
    let unexpected: Vec<&String> = counts.keys().filter(|u| !ch.want.contains(*u)).collect();
    f.lost = missing.len();
    f.delivered = counts.values().sum();
    f.repeats = counts.values().map(|n| n - 1).sum();
    let killed = f.killed_before_sending + f.killed_mid_delivery + f.killed_after_everything;
    eprintln!(
        "{}: {} trials in {:.1}s: {} killed before sending, {} killed mid-delivery ({} between \
         the server's confirmation and the ledger's record), {} killed after everything arrived, \
         {} finished; {} units, {} deliveries, {} repeats (allowed {}), {} lost",
        ch.name,
        f.trials,
        started.elapsed().as_secs_f64(),
        f.killed_before_sending,
        f.killed_mid_delivery,
        f.killed_before_record,
        f.killed_after_everything,
        f.finished,
        ch.want.len(),
        f.delivered,
        f.repeats,
        ch.repeats_per_kill * killed,
        f.lost,
    );
    assert!(missing.is_empty(), "{}: lost {missing:?}", ch.name);
    assert!(unexpected.is_empty(), "{}: {unexpected:?}", ch.name);
    assert!(
        f.repeats <= ch.repeats_per_kill * killed,
        "{}: {} repeats after {killed} kills: {counts:?}",
        ch.name,
        f.repeats
    );
    // The kills must have hit runs while they were delivering, or the test proves nothing.
    assert!(
        f.killed_mid_delivery >= 5,
        "{}: only {} runs were killed mid-delivery ({f:?})",
        ch.name,
        f.killed_mid_delivery
    );
    f
}

/// The parts the ledger notes as being sent and has not recorded (`ledger.sqlite` in the test
/// folder; none for the API, which records orders only once queued). Opening it rolls back a
/// killed run's unfinished transaction, as the next run would.
fn noted(env: &TestEnv) -> Vec<String> {
    let db = env.path().join("ledger.sqlite");
    if !db.exists() {
        return vec![];
    }
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut stmt = conn.prepare("SELECT remote_name FROM sending").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// Deliveries per name into `inbox` so far, for [`crash_and_rerun`]. A folder keeps no log:
/// each delivery is a rename, which gives the name a new inode.
pub fn folder_deliveries(inbox: &std::path::Path) -> impl FnMut() -> BTreeMap<String, usize> {
    let inbox = inbox.to_path_buf();
    let mut seen: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    move || {
        for e in std::fs::read_dir(&inbox).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') {
                seen.entry(name)
                    .or_default()
                    .insert(e.metadata().unwrap().ino());
            }
        }
        seen.iter()
            .map(|(n, inodes)| (n.clone(), inodes.len()))
            .collect()
    }
}

/// Deliveries per unit: how often each name occurs.
pub fn tally(names: impl IntoIterator<Item = String>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for n in names {
        *counts.entry(n).or_insert(0) += 1;
    }
    counts
}

/// Deliveries per final name, from a server log: `rename` picks the target of a rename line.
/// Renames onto temporary names (starting with a dot) are not deliveries.
fn renames(log: &[String], rename: impl Fn(&str) -> Option<&str>) -> BTreeMap<String, usize> {
    tally(
        log.iter()
            .filter_map(|l| rename(l))
            .filter(|n| !n.starts_with('.'))
            .map(str::to_string),
    )
}

/// Files under final names (temporary names start with a dot).
fn final_files(files: Vec<(String, Vec<u8>)>) -> BTreeMap<String, Vec<u8>> {
    files
        .into_iter()
        .filter(|(n, _)| !n.starts_with('.'))
        .collect()
}

#[test]
fn a_folder_gets_every_part_exactly_once_across_kills() {
    let env = TestEnv::new();
    env.write("many.csv", generate::item_level(&Spec::clean(71, 3_000)));
    std::fs::create_dir(env.path().join("inbox")).unwrap();
    let parts = expected_parts(&env, "many.csv", MAX_ROWS);
    let ch = Channel {
        want: parts.keys().cloned().collect(),
        ..Channel::new("dir", &env, &["--dir", "inbox"], 0xD1)
    };
    let inbox = env.path().join("inbox");
    let f = crash_and_rerun(&ch, folder_deliveries(&inbox));
    assert_eq!(f.repeats, 0);
    assert_eq!(files_in(&inbox), parts, "every part complete, nothing else");
}

/// Encrypted parts: each run encrypts to other bytes, so a part killed between its arrival
/// and the ledger's record is recognised by the encrypted digest the ledger noted.
#[test]
fn a_folder_gets_every_encrypted_part_exactly_once_across_kills() {
    let gpg = crate::pgp::Gpg::new("2y", None);
    let env = TestEnv::new();
    gpg.write_public_key(&env, "impact-public.asc", false);
    env.write(
        "convsubmit.toml",
        "[dir]\nencrypt_to = \"impact-public.asc\"\n",
    );
    env.write("many.csv", generate::item_level(&Spec::clean(74, 3_000)));
    std::fs::create_dir(env.path().join("inbox")).unwrap();
    let parts = expected_parts(&env, "many.csv", MAX_ROWS);
    let ch = Channel {
        want: parts.keys().map(|n| format!("{n}.pgp")).collect(),
        ..Channel::new("dir, encrypted", &env, &["--dir", "inbox"], 0xD2)
    };
    let inbox = env.path().join("inbox");
    let f = crash_and_rerun(&ch, folder_deliveries(&inbox));
    assert_eq!(f.repeats, 0);
    let got = files_in(&inbox);
    assert_eq!(crate::pgp::decrypted(&gpg, &got), parts);
}

#[test]
fn sftp_gets_every_part_exactly_once_across_kills() {
    const PASSWORD: &str = "crash-sftp-pw";
    let server = SftpServer::start(SftpOptions::password("acme", PASSWORD));
    let env = TestEnv::new();
    sftp_config(&env, &server, "password_env = \"TEST_SFTP_PASSWORD\"");
    env.write("many.csv", generate::item_level(&Spec::clean(72, 3_000)));
    let parts = expected_parts(&env, "many.csv", MAX_ROWS);
    let ch = Channel {
        vars: vec![("TEST_SFTP_PASSWORD", PASSWORD)],
        want: parts.keys().cloned().collect(),
        ..Channel::new("sftp", &env, &["--sftp"], 0x5161)
    };
    crash_and_rerun(&ch, || {
        renames(&server.log(), |l| {
            l.strip_prefix("rename ")?.split_once(' ').map(|(_, to)| to)
        })
    });
    assert_eq!(final_files(server.files()), parts);
}

#[test]
fn ftp_gets_every_part_exactly_once_across_kills() {
    const PASSWORD: &str = "crash-ftp-pw";
    let server = FtpServer::start(FtpOptions {
        user: "alice".into(),
        password: PASSWORD.into(),
        ..FtpOptions::default()
    });
    let env = TestEnv::new();
    env.write(
        "convsubmit.toml",
        format!(
            "[ftp]\nhost = \"127.0.0.1\"\nport = {}\nusername = \"alice\"\npassword_env = \"TEST_FTP_PASSWORD\"\n",
            server.port
        ),
    );
    env.write("many.csv", generate::item_level(&Spec::clean(73, 3_000)));
    let parts = expected_parts(&env, "many.csv", MAX_ROWS);
    let ch = Channel {
        vars: vec![("TEST_FTP_PASSWORD", PASSWORD)],
        want: parts.keys().cloned().collect(),
        ..Channel::new("ftp", &env, &["--ftp"], 0xF7B)
    };
    crash_and_rerun(&ch, || renames(&server.log(), |l| l.strip_prefix("RNTO ")));
    assert_eq!(final_files(server.files()), parts);
}

#[test]
fn email_sends_every_part_and_repeats_only_the_one_in_flight() {
    const PASSWORD: &str = "crash-smtp-pw";
    let server = SmtpServer::start(SmtpOptions {
        auth: Some(("reports@acme.example".into(), PASSWORD.into())),
        ..SmtpOptions::default()
    });
    let env = TestEnv::new();
    env.write(
        "convsubmit.toml",
        format!(
            "[email]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\ntls = \"none\"\nusername = \"reports@acme.example\"\npassword_env = \"TEST_SMTP_PASSWORD\"\nfrom = \"reports@acme.example\"\nto = \"42f56e88@batch.impact.com\"\n",
            server.port
        ),
    );
    env.write("many.csv", generate::item_level(&Spec::clean(74, 3_000)));
    let want: BTreeSet<String> = expected_parts(&env, "many.csv", MAX_ROWS)
        .into_keys()
        .collect();
    let ch = Channel {
        vars: vec![("TEST_SMTP_PASSWORD", PASSWORD)],
        want,
        repeats_per_kill: 1,
        ..Channel::new("email", &env, &["--email"], 0xE3A1)
    };
    crash_and_rerun(&ch, || {
        tally(server.messages().iter().map(|m| attachment(&m.raw).0))
    });
}

/// The name and bytes of the one attachment of the message `raw`.
fn attachment(raw: &[u8]) -> (String, Vec<u8>) {
    let parsed = MessageParser::default().parse(raw).unwrap();
    let a = parsed.attachments().next().expect("one attachment");
    (
        a.attachment_name().unwrap().to_string(),
        a.contents().to_vec(),
    )
}

/// `rows` with the orders whose OrderId ends in an odd digit moved to event type 27016.
fn alternate_event_types(rows: &str) -> String {
    let mut out = String::new();
    for line in rows.lines() {
        let odd = line
            .split(',')
            .nth(3)
            .and_then(|id| id.bytes().last())
            .is_some_and(|b| b.is_ascii_digit() && (b - b'0') % 2 == 1);
        out.push_str(&if odd {
            line.replacen(",27015,", ",27016,", 1)
        } else {
            line.to_string()
        });
        out.push('\n');
    }
    out
}

#[test]
fn email_per_event_type_sends_every_part_to_its_address_across_kills() {
    const PASSWORD: &str = "crash-smtp-pw";
    const TO: [(&str, &str); 2] = [
        ("27015", "42f56e88@batch.impact.com"),
        ("27016", "7d0c4b1a@batch.impact.com"),
    ];
    let server = SmtpServer::start(SmtpOptions {
        auth: Some(("reports@acme.example".into(), PASSWORD.into())),
        ..SmtpOptions::default()
    });
    let env = TestEnv::new();
    env.write(
        "convsubmit.toml",
        format!(
            "[email]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\ntls = \"none\"\nusername = \"reports@acme.example\"\npassword_env = \"TEST_SMTP_PASSWORD\"\nfrom = \"reports@acme.example\"\n[email.to]\n{} = \"{}\"\n{} = \"{}\"\n",
            server.port, TO[0].0, TO[0].1, TO[1].0, TO[1].1
        ),
    );
    env.write(
        "many.csv",
        alternate_event_types(&generate::item_level(&Spec::clean(76, 3_000))),
    );
    // Each part as split writes it, cut into one per event type of its rows.
    let mut want = BTreeSet::new();
    for (name, bytes) in expected_parts(&env, "many.csv", MAX_ROWS) {
        let (_, rows) = generate::parse(&bytes);
        let (stem, number) = name
            .strip_suffix(".csv")
            .unwrap()
            .rsplit_once("_part")
            .unwrap();
        for (event_type, _) in TO {
            if rows.iter().any(|r| r.fields[1] == event_type) {
                want.insert(format!("{stem}_{event_type}_part{number}.csv"));
            }
        }
    }
    assert!(want.len() > 10, "{want:?}");
    let ch = Channel {
        vars: vec![("TEST_SMTP_PASSWORD", PASSWORD)],
        want,
        repeats_per_kill: 1,
        ..Channel::new("email-by-type", &env, &["--email"], 0xE3A2)
    };
    crash_and_rerun(&ch, || {
        tally(server.messages().iter().map(|m| {
            let (name, contents) = attachment(&m.raw);
            // Each part went to its event type's address, and its rows are of that type.
            let (event_type, to) = TO
                .iter()
                .find(|(t, _)| name.contains(&format!("_{t}_")))
                .unwrap();
            assert_eq!(m.to, [*to], "{name}");
            let (_, rows) = generate::parse(&contents);
            assert!(rows.iter().all(|r| r.fields[1] == *event_type), "{name}");
            name
        }))
    });
}

#[test]
fn the_api_queues_every_order_and_repeats_only_requests_in_flight() {
    const SID: &str = "IRcrashAccount000000000000000001";
    const TOKEN: &str = "crash-api-token";
    let server = ApiServer::start(ApiOptions {
        latency: Duration::from_millis(5),
        ..ApiOptions::new(SID, TOKEN)
    });
    let env = TestEnv::new();
    env.write(
        "convsubmit.toml",
        format!(
            "[api]\nbase_url = \"{}\"\nallow_insecure_http = true\naccount_sid = \"{SID}\"\nauth_token_env = \"TEST_API_TOKEN\"\nconcurrency = 4\n",
            server.base_url
        ),
    );
    let input = generate::item_level(&Spec::clean(75, 3_000));
    env.write("many.csv", &input);
    let (_, rows) = generate::parse(input.as_bytes());
    let want: BTreeSet<String> = rows.iter().map(|r| r.fields[3].clone()).collect();
    let ch = Channel {
        vars: vec![("TEST_API_TOKEN", TOKEN)],
        want,
        repeats_per_kill: 4,
        ..Channel::new("api", &env, &["--api"], 0xA91)
    };
    crash_and_rerun(&ch, || {
        tally(
            server
                .conversions()
                .into_iter()
                .map(|f| f.into_iter().find(|(k, _)| k == "OrderId").unwrap().1),
        )
    });
}
