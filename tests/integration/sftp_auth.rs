//! SFTP logins as impact.com's Connections provision them: a key *and* a password (a server
//! with OpenSSH's `AuthenticationMethods publickey,password`), and a server that takes the
//! password only by keyboard-interactive. Against the in-process SSH server.

use crate::servers::sftp::{SftpOptions, SftpServer, client_keypair};
use crate::util::{AS_OF, Output, TestEnv};

const PASSWORD: &str = "kbd-Zr8!second-factor";

/// A server and a config naming `key`/`password` as asked; the password is read from
/// `TEST_SFTP_PASSWORD`, set to `given`.
struct Rig {
    env: TestEnv,
    server: SftpServer,
    given: &'static str,
}

impl Rig {
    fn new(require_both: bool, keyboard_interactive: bool, key: bool, password: bool) -> Rig {
        let env = TestEnv::new();
        let (key_path, public) = client_keypair(env.path());
        let server = SftpServer::start(SftpOptions {
            user: "acme".into(),
            password: Some(PASSWORD.into()),
            client_public_key_openssh: Some(public),
            require_both,
            keyboard_interactive,
            ..Default::default()
        });
        let mut extra = String::new();
        if key {
            let name = key_path.file_name().unwrap().to_string_lossy().into_owned();
            extra.push_str(&format!("key_file = \"{name}\"\n"));
        }
        if password {
            extra.push_str("password_env = \"TEST_SFTP_PASSWORD\"\n");
        }
        crate::push::sftp_config(&env, &server, &extra);
        env.copy_fixture("item-level-valid.csv");
        Rig {
            env,
            server,
            given: PASSWORD,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = self
            .env
            .run_env(args, &[("TEST_SFTP_PASSWORD", self.given)]);
        for text in [&out.stdout, &out.stderr] {
            assert!(!text.contains(self.given), "the password leaked:\n{out:?}");
        }
        out
    }

    fn push(&self) -> Output {
        self.run(&[
            "push",
            "--as-of",
            AS_OF,
            "--ledger",
            "ledger.sqlite",
            "--retries",
            "0",
            "--sftp",
            "item-level-valid.csv",
        ])
    }

    fn delivered(&self) -> usize {
        self.server
            .files()
            .into_iter()
            .filter(|(n, _)| !n.starts_with('.'))
            .count()
    }
}

#[test]
fn a_server_that_wants_the_key_and_the_password_gets_both() {
    let rig = Rig::new(true, false, true, true);
    let out = rig.push();
    out.assert_code(0);
    assert_eq!(rig.delivered(), 1, "{out:?}");
    let log = rig.server.log();
    let key = log.iter().position(|l| l == "auth publickey acme ok");
    let password = log.iter().position(|l| l == "auth password acme ok");
    assert!(
        matches!((key, password), (Some(k), Some(p)) if k < p),
        "{log:?}"
    );
    let doctor = rig.run(&["doctor", "--sftp"]);
    doctor.assert_code(0);
    assert!(
        doctor
            .stdout
            .contains("logged in with publickey, then password"),
        "{doctor:?}"
    );
}

#[test]
fn keyboard_interactive_prompts_are_answered_with_the_password() {
    let rig = Rig::new(false, true, false, true);
    let out = rig.push();
    out.assert_code(0);
    assert_eq!(rig.delivered(), 1, "{out:?}");
    let doctor = rig.run(&["doctor", "--sftp"]);
    doctor.assert_code(0);
    assert!(
        doctor
            .stdout
            .contains("logged in with keyboard-interactive"),
        "{doctor:?}"
    );
    // Key first, then the prompt, where a server asks for both that way.
    let both = Rig::new(true, true, true, true);
    both.push().assert_code(0);
    let doctor = both.run(&["doctor", "--sftp"]);
    assert!(
        doctor
            .stdout
            .contains("logged in with publickey, then keyboard-interactive"),
        "{doctor:?}"
    );
}

#[test]
fn a_key_alone_where_both_are_required_names_the_missing_password() {
    let rig = Rig::new(true, false, true, false);
    let out = rig.push();
    out.assert_code(4);
    assert!(out.stderr.contains("accepted publickey"), "{out:?}");
    assert!(out.stderr.contains("password_env"), "{out:?}");
    assert!(!out.stderr.contains("re-run"), "{out:?}");
    assert_eq!(rig.delivered(), 0);
}

#[test]
fn a_refused_second_factor_is_permanent_and_named() {
    let mut rig = Rig::new(true, false, true, true);
    rig.given = "not-the-second-factor";
    let out = rig.push();
    out.assert_code(4);
    assert!(
        out.stderr
            .contains("accepted publickey, then refused the password (password)"),
        "{out:?}"
    );
    assert!(out.stderr.contains("the key was accepted"), "{out:?}");
    assert!(!out.stderr.contains("retrying"), "{out:?}");
    assert_eq!(rig.delivered(), 0);
    let log = rig.server.log();
    assert!(log.iter().any(|l| l == "auth publickey acme ok"), "{log:?}");
    assert!(
        log.iter().any(|l| l == "auth password acme rejected"),
        "{log:?}"
    );
}
