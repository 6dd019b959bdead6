//! Colour conventions on every command: `--color auto|always|never` (before or after the
//! command), `NO_COLOR` and `CLICOLOR_FORCE`, for reports and for clap's help and errors.

use crate::util::{AS_OF, TestEnv, finish};

const DEMO: &str = "item-level-errors.csv";
const RED_ERROR: &str = "\x1b[1;31merror\x1b[0m";

/// Runs `args` with exactly the colour variables `vars` (the harness sets NO_COLOR=1).
fn run(env: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> crate::util::Output {
    let mut cmd = env.command(args);
    cmd.env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    finish(cmd)
}

#[test]
fn reports_follow_the_flag_then_no_color_then_clicolor_force() {
    let env = TestEnv::new();
    env.copy_fixture(DEMO);
    let coloured = |args: &[&str], vars: &[(&str, &str)]| {
        let mut all = vec!["validate", "--as-of", AS_OF, DEMO];
        all.extend_from_slice(args);
        let out = run(&env, &all, vars);
        out.assert_code(1);
        out.stdout.contains(RED_ERROR)
    };
    assert!(!coloured(&[], &[]), "a pipe is not a terminal");
    assert!(coloured(&[], &[("CLICOLOR_FORCE", "1")]));
    assert!(!coloured(&[], &[("CLICOLOR_FORCE", "0")]));
    assert!(!coloured(
        &[],
        &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]
    ));
    assert!(coloured(&[], &[("NO_COLOR", ""), ("CLICOLOR_FORCE", "1")]));
    assert!(coloured(&["--color", "always"], &[("NO_COLOR", "1")]));
    assert!(!coloured(&["--color=never"], &[("CLICOLOR_FORCE", "1")]));
    let before = run(
        &env,
        &["--color", "always", "validate", "--as-of", AS_OF, DEMO],
        &[],
    );
    assert!(before.stdout.contains(RED_ERROR), "{}", before.stdout);
}

#[test]
fn every_command_takes_color_and_its_help_and_errors_follow_the_same_rule() {
    let env = TestEnv::new();
    let commands: &[&[&str]] = &[
        &[],
        &["validate"],
        &["split"],
        &["fix"],
        &["push"],
        &["history"],
        &["status"],
        &["doctor"],
        &["templates"],
        &["templates", "show"],
        &["completions"],
        &["man"],
    ];
    for command in commands {
        let with = |extra: &[&str], vars: &[(&str, &str)]| {
            let mut args = command.to_vec();
            args.extend_from_slice(extra);
            args.push("--help");
            let out = run(&env, &args, vars);
            out.assert_code(0);
            out.stdout.contains('\x1b')
        };
        assert!(!with(&[], &[]), "{command:?}: a pipe is not a terminal");
        assert!(with(&[], &[("CLICOLOR_FORCE", "1")]), "{command:?}");
        assert!(
            !with(&[], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]),
            "{command:?}"
        );
        assert!(
            with(&["--color", "always"], &[("NO_COLOR", "1")]),
            "{command:?}"
        );
        assert!(
            !with(&["--color", "never"], &[("CLICOLOR_FORCE", "1")]),
            "{command:?}"
        );
    }
    let error = |vars: &[(&str, &str)]| {
        let out = run(&env, &["templates", "list", "--bogus"], vars);
        out.assert_code(2);
        out.stderr.contains('\x1b')
    };
    assert!(error(&[("CLICOLOR_FORCE", "1")]));
    assert!(!error(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]));
    // Commands with no colour of their own accept the flag.
    run(&env, &["templates", "list", "--color", "never"], &[]).assert_code(0);
    run(&env, &["--color", "always", "completions", "bash"], &[]).assert_code(0);
}
