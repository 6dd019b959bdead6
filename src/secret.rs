//! Secrets (passwords, tokens): read only from the environment, a file or a command named in
//! the configuration, never from the command line, and never shown. `Debug` and `Display`
//! print `<redacted>`, so a secret cannot leak through a log line or an error by accident, and
//! every secret made is known to [`crate::redact`], which masks it in any text printed.

use anyhow::{Context, Result, bail};
use std::fmt;
use std::path::Path;

/// A secret value. Only [`Secret::expose`] gives the text.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Secret {
        let value = value.into();
        crate::redact::register(&value);
        Secret(value)
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where a secret comes from, as the configuration names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An environment variable.
    Env(String),
    /// A file whose content (without the final line break) is the secret.
    File(std::path::PathBuf),
    /// A command (run with `sh -c`) whose standard output is the secret.
    Command(String),
}

impl Source {
    /// Reads the secret. Errors name the source, never the value.
    pub fn read(&self) -> Result<Secret> {
        let value = match self {
            Source::Env(var) => match std::env::var(var) {
                Ok(v) => v,
                Err(std::env::VarError::NotPresent) => {
                    bail!("the environment variable {var} is not set")
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    bail!("the environment variable {var} is not valid text")
                }
            },
            // Only a regular, bounded file nobody else could have written (crate::trust).
            Source::File(path) => crate::trust::read(path, "the secret file")?,
            Source::Command(cmd) => {
                let out = std::process::Command::new("sh")
                    .args(["-c", cmd])
                    .stdin(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .output()
                    .with_context(|| format!("cannot run the secret command `{cmd}`"))?;
                if !out.status.success() {
                    bail!("the secret command `{cmd}` failed ({})", out.status);
                }
                String::from_utf8(out.stdout)
                    .with_context(|| format!("the secret command `{cmd}` printed non-text"))?
            }
        };
        let value = value.trim_end_matches(['\n', '\r']);
        if value.is_empty() {
            bail!("{} is empty", self.describe());
        }
        Ok(Secret::new(value))
    }

    /// How people see the source: `$VAR`, `file PATH`, `command CMD`.
    pub fn describe(&self) -> String {
        match self {
            Source::Env(v) => format!("the environment variable {v}"),
            Source::File(p) => format!("the secret file {}", p.display()),
            Source::Command(c) => format!("the secret command `{c}`"),
        }
    }
}

/// Warns when a secret file can be read by other users (the config file names it, so anyone
/// who can read both can log in).
#[cfg(unix)]
pub fn check_private(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        format!(
            "{} can be read by other users (mode {:o}); run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        )
    })
}

/// Warns when a config file that names a secret file can be read by users other than its
/// owner and group (they learn where the secret is). One others can write is refused before
/// this (crate::trust).
#[cfg(unix)]
pub fn check_config(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o004 != 0).then(|| {
        format!(
            "{} names a secret file and can be read by other users (mode {:o}); run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        )
    })
}

/// Never warns where permissions are not Unix modes.
#[cfg(not(unix))]
pub fn check_private(_path: &Path) -> Option<String> {
    None
}

/// Never warns where permissions are not Unix modes.
#[cfg(not(unix))]
pub fn check_config(_path: &Path) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed() {
        let s = Secret::new("hunter2");
        assert_eq!(
            format!("{s} {s:?} {:?}", Some(&s)),
            "<redacted> <redacted> Some(<redacted>)"
        );
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn read_from_each_source_without_naming_the_value() {
        let dir = std::env::temp_dir().join(format!("convsubmit-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pw");
        std::fs::write(&file, "s3cret\n").unwrap();
        assert_eq!(
            Source::File(file.clone()).read().unwrap().expose(),
            "s3cret"
        );
        let cmd = Source::Command("printf 'from-cmd\\n'".into());
        assert_eq!(cmd.read().unwrap().expose(), "from-cmd");
        let missing = Source::Env("CONVSUBMIT_TEST_UNSET_VARIABLE".into());
        let e = missing.read().unwrap_err().to_string();
        assert!(
            e.contains("CONVSUBMIT_TEST_UNSET_VARIABLE is not set"),
            "{e}"
        );
        // What a failing command printed is never repeated.
        let failing = Source::Command("echo s3cr3t-$((6*7)); exit 3".into())
            .read()
            .unwrap_err();
        assert!(!format!("{failing:#}").contains("s3cr3t-42"), "{failing:#}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
