//! PGP-encrypted parts (`encrypt_to`): GnuPG makes a 2048-bit RSA key pair in a temporary
//! home, as impact.com's Connections do, convsubmit encrypts each part to the public key, and
//! `gpg --decrypt` gives back the part byte for byte. GnuPG must be installed (Debian's
//! `gnupg`; `.ci/run` installs it): without it these tests fail, they never pass unseen.

use crate::generate::{self, Spec};
use crate::push::{expected_parts, files_in};
use crate::util::{AS_OF, Output, TestEnv};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A GnuPG home of its own, removed (its agent ended) on drop.
pub struct Gpg {
    home: PathBuf,
}

impl Gpg {
    /// A home with one RSA 2048 key pair valid `expiry` (gpg's words: `2y`, `1d`), created
    /// at `faked_time` (gpg's `--faked-system-time`, e.g. `20200101T000000`) if given: a
    /// primary key that signs and an encryption subkey, as impact.com's.
    pub fn new(expiry: &str, faked_time: Option<&str>) -> Gpg {
        let gpg = Gpg::signing_only(expiry, faked_time);
        let fingerprint = gpg.fingerprint();
        let mut args = vec![];
        if let Some(t) = faked_time {
            args.extend(["--faked-system-time", t]);
        }
        args.extend(["--quick-add-key", &fingerprint, "rsa2048", "encr", expiry]);
        gpg.run(&args, b"");
        gpg
    }

    /// The primary key's fingerprint.
    fn fingerprint(&self) -> String {
        let listing = String::from_utf8(self.run(&["--with-colons", "--list-keys"], b"")).unwrap();
        let line = listing.lines().find(|l| l.starts_with("fpr:")).unwrap();
        line.split(':').nth(9).unwrap().to_string()
    }

    /// A home whose one key (RSA 2048) signs and certifies only: nothing to encrypt to.
    pub fn signing_only(expiry: &str, faked_time: Option<&str>) -> Gpg {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Short: the agent's socket lives in it.
        let home = std::env::temp_dir().join(format!("cs-gpg-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home).unwrap();
        set_mode(&home, 0o700);
        let gpg = Gpg { home };
        let mut args = vec![];
        if let Some(t) = faked_time {
            args.extend(["--faked-system-time", t]);
        }
        args.extend([
            "--quick-gen-key",
            "impact test <t@example.com>",
            "rsa2048",
            "default",
            expiry,
        ]);
        gpg.run(&args, b"");
        gpg
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("gpg");
        cmd.env("GNUPGHOME", &self.home)
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args);
        cmd
    }

    /// Runs gpg with `args` and `stdin`; its standard output. Panics loudly when gpg is
    /// missing or fails.
    fn run(&self, args: &[&str], stdin: &[u8]) -> Vec<u8> {
        let out = crate::util::fed(self.command(args), stdin).unwrap_or_else(|e| {
            panic!("cannot run gpg ({e}): install GnuPG (apt-get install -y gnupg); these tests need it")
        });
        assert!(
            out.status.success(),
            "gpg {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// The public key, armored or binary.
    pub fn public_key(&self, armored: bool) -> Vec<u8> {
        let mut args = vec!["--export"];
        if armored {
            args.insert(0, "--armor");
        }
        self.run(&args, b"")
    }

    /// The secret key, armored.
    pub fn secret_key(&self) -> Vec<u8> {
        self.run(&["--armor", "--export-secret-keys"], b"")
    }

    /// `gpg --decrypt` of `message`.
    pub fn decrypt(&self, message: &[u8]) -> Vec<u8> {
        self.run(&["--decrypt"], message)
    }

    /// Writes the public key (armored) as `name` in `env`, owner-only like a config file.
    pub fn write_public_key(&self, env: &TestEnv, name: &str, armored: bool) {
        env.write(name, self.public_key(armored));
        set_mode(&env.path().join(name), 0o600);
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        // Ends this home's agent (and only it), then removes the home.
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", &self.home)
            .args(["--kill", "gpg-agent"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Each `x.csv.pgp` in `got` decrypted, as `x.csv`; panics on a file without `.pgp`.
pub fn decrypted(gpg: &Gpg, got: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    got.iter()
        .map(|(name, bytes)| {
            let plain = name
                .strip_suffix(".pgp")
                .unwrap_or_else(|| panic!("{name} arrived without .pgp"));
            // Binary OpenPGP: a packet tag, never armor.
            assert!(bytes[0] & 0x80 != 0, "{name} is not binary OpenPGP");
            (plain.to_string(), gpg.decrypt(bytes))
        })
        .collect()
}

fn push(env: &TestEnv, args: &[&str]) -> Output {
    let mut all = vec![
        "push",
        "--as-of",
        AS_OF,
        "--config",
        "convsubmit.toml",
        "--ledger",
        "ledger.sqlite",
    ];
    all.extend_from_slice(args);
    env.run(&all)
}

/// A config with `[dir] encrypt_to = key`.
fn dir_config(env: &TestEnv, key: &str) {
    env.write(
        "convsubmit.toml",
        format!("[dir]\nencrypt_to = \"{key}\"\n"),
    );
    set_mode(&env.path().join("convsubmit.toml"), 0o600);
}

#[test]
fn a_folder_gets_each_part_encrypted_and_a_rerun_is_silent() {
    let gpg = Gpg::new("2y", None);
    for armored in [true, false] {
        let env = TestEnv::new();
        gpg.write_public_key(&env, "keys/impact-public.asc", armored);
        dir_config(&env, "keys/impact-public.asc");
        env.write("sales.csv", generate::item_level(&Spec::clean(11, 2_500)));
        std::fs::create_dir(env.path().join("inbox")).unwrap();
        let want = expected_parts(&env, "sales.csv", "1000");
        assert_eq!(want.len(), 3);
        let args = ["--dir", "inbox", "--max-rows", "1000", "sales.csv"];
        let doctor = env.run(&["doctor", "--config", "convsubmit.toml", "--dir", "inbox"]);
        doctor.assert_code(0);
        assert!(
            doctor
                .stdout
                .contains("ok: encrypt_to: parts are encrypted to key "),
            "{doctor:?}"
        );
        let dry = push(&env, &[&["--dry-run"], &args[..]].concat());
        dry.assert_code(0);
        assert!(
            dry.stdout.contains("would encrypt and send ") && dry.stdout.contains(".csv.pgp"),
            "{dry:?}"
        );
        let first = push(&env, &args);
        first.assert_code(0);
        assert!(
            first.stdout.contains("push: sent 3 parts of 3"),
            "{first:?}"
        );
        let got = files_in(&env.path().join("inbox"));
        assert_eq!(decrypted(&gpg, &got), want);
        // A re-run encrypts again, to other bytes, and sends nothing.
        let again = push(&env, &[&["--format", "json"], &args[..]].concat());
        again.assert_code(0);
        let report: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
        let units = report["delivery"]["units"].as_array().unwrap();
        assert_eq!(units.len(), 3);
        for u in units {
            assert_eq!(u["outcome"], "already_delivered", "{u}");
            let name = u["name"].as_str().unwrap();
            let plain = &want[name];
            assert_eq!(u["sha256"], convsubmit::digest::sha256_hex(plain), "{u}");
            assert!(
                u["encrypted_sha256"]
                    .as_str()
                    .is_some_and(|s| s.len() == 64)
            );
            assert!(u["encrypted_bytes"].as_u64().unwrap() > plain.len() as u64);
            assert!(u["remote_name"].as_str().unwrap().ends_with(".csv.pgp"));
        }
        assert_eq!(files_in(&env.path().join("inbox")), got);
    }
}

#[test]
fn a_bad_key_is_a_configuration_error_before_anything_is_sent() {
    let good = Gpg::new("2y", None);
    let old = Gpg::new("1d", Some("20200101T000000"));
    let signing = Gpg::signing_only("2y", None);
    let env = TestEnv::new();
    env.write("sales.csv", generate::item_level(&Spec::clean(3, 20)));
    std::fs::create_dir(env.path().join("inbox")).unwrap();
    env.write("expired.asc", old.public_key(true));
    env.write("secret.asc", good.secret_key());
    env.write("signing.asc", signing.public_key(false));
    env.write("notakey.asc", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nbm90IGEga2V5\n-----END PGP PUBLIC KEY BLOCK-----\n");
    env.write("empty.asc", "");
    env.write("text.asc", "CampaignId,OrderId\n1,2\n");
    for name in [
        "expired.asc",
        "signing.asc",
        "secret.asc",
        "notakey.asc",
        "empty.asc",
        "text.asc",
    ] {
        set_mode(&env.path().join(name), 0o600);
    }
    let cases = [
        (
            "expired.asc",
            "expired on 2020-01-02: download the Connection's new public key",
        ),
        ("signing.asc", "has no key that may encrypt"),
        (
            "secret.asc",
            "holds a secret (private) key, not a public key",
        ),
        ("notakey.asc", "is not an OpenPGP public key"),
        ("empty.asc", "is not an OpenPGP public key"),
        ("text.asc", "is not an OpenPGP public key"),
        ("missing.asc", "cannot read the [dir] encrypt_to key file"),
    ];
    for (key, want) in cases {
        dir_config(&env, key);
        for dry in [false, true] {
            let mut args = vec!["--dir", "inbox", "sales.csv"];
            if dry {
                args.insert(0, "--dry-run");
            }
            let out = push(&env, &args);
            out.assert_code(2);
            assert!(out.stderr.contains("[dir] encrypt_to"), "{key}: {out:?}");
            assert!(out.stderr.contains(want), "{key}: {out:?}");
            assert!(files_in(&env.path().join("inbox")).is_empty(), "{key}");
        }
        // doctor judges the key as push does.
        let doctor = env.run(&["doctor", "--config", "convsubmit.toml", "--dir", "inbox"]);
        doctor.assert_code(2);
        assert!(doctor.stderr.contains(want), "{key}: {doctor:?}");
        assert!(
            !doctor.stdout.contains("is ready for push"),
            "{key}: {doctor:?}"
        );
    }
    // A key file others could change is refused like the config's other files.
    good.write_public_key(&env, "open.asc", true);
    set_mode(&env.path().join("open.asc"), 0o666);
    dir_config(&env, "open.asc");
    let out = push(&env, &["--dir", "inbox", "sales.csv"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("someone else could have changed it"),
        "{out:?}"
    );
    assert!(files_in(&env.path().join("inbox")).is_empty());
}
