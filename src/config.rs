//! `convsubmit.toml`: where to deliver, and how to log in. Looked for at `--config PATH`, else
//! `./convsubmit.toml`, else `$XDG_CONFIG_HOME/convsubmit/convsubmit.toml` (by default
//! `~/.config/convsubmit/convsubmit.toml`); with none, every key has its default. Relative
//! paths are relative to the config file's folder and `~` is the home folder. Unknown keys are
//! errors, so that a typo never silently falls back to a default.

use crate::secret::Source;
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// impact.com's batch host.
pub const DEFAULT_HOST: &str = "batch.impact.com";

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[sftp]`.
    #[serde(default)]
    pub sftp: Server,
    /// `[ftp]` (also `--ftps`).
    #[serde(default)]
    pub ftp: Server,
    /// `[email]`.
    #[serde(default)]
    pub email: Email,
    /// `[api]`.
    #[serde(default)]
    pub api: Api,
    /// `[ledger]`.
    #[serde(default)]
    pub ledger: Ledger,
    /// Where the file was read from (`None`: no file, all defaults).
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

/// `[sftp]` and `[ftp]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// Default `batch.impact.com`.
    pub host: Option<String>,
    /// Default 22 (SFTP) or 21 (FTP).
    pub port: Option<u16>,
    /// The login.
    pub username: Option<String>,
    /// Password from this environment variable.
    pub password_env: Option<String>,
    /// Password from this file.
    pub password_file: Option<String>,
    /// Password from this command's output.
    pub password_command: Option<String>,
    /// SFTP: private key file instead of a password.
    pub key_file: Option<String>,
    /// SFTP: passphrase of the key, from this environment variable.
    pub key_passphrase_env: Option<String>,
    /// SFTP: known_hosts file (default `~/.ssh/known_hosts`).
    pub known_hosts: Option<String>,
    /// SFTP: the server's key fingerprint, `SHA256:…` (instead of known_hosts).
    pub host_key: Option<String>,
    /// FTPS: extra CA certificate (PEM) to trust.
    pub ca_file: Option<String>,
    /// Folder on the server (default `/`).
    pub remote_dir: Option<String>,
    /// Upload under a temporary name, then rename (default true). `false` writes straight to
    /// the final name, for servers that refuse rename.
    pub rename: Option<bool>,
}

/// `[email]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Email {
    /// SMTP server.
    pub smtp_host: Option<String>,
    /// SMTP port (default 587).
    pub smtp_port: Option<u16>,
    /// `starttls` (default), `implicit` or `none`.
    pub tls: Option<String>,
    /// SMTP login.
    pub username: Option<String>,
    /// Password from this environment variable.
    pub password_env: Option<String>,
    /// Password from this file.
    pub password_file: Option<String>,
    /// Password from this command's output.
    pub password_command: Option<String>,
    /// Extra CA certificate (PEM) to trust.
    pub ca_file: Option<String>,
    /// Sender.
    pub from: Option<String>,
    /// The event type's unique address.
    pub to: Option<String>,
    /// Copies.
    #[serde(default)]
    pub cc: Vec<String>,
    /// Largest attachment.
    pub max_attachment_bytes: Option<u64>,
}

/// `[api]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Api {
    /// Default `https://api.impact.com`.
    pub base_url: Option<String>,
    /// The account SID.
    pub account_sid: Option<String>,
    /// Auth token from this environment variable.
    pub auth_token_env: Option<String>,
    /// Auth token from this file.
    pub auth_token_file: Option<String>,
    /// Auth token from this command's output.
    pub auth_token_command: Option<String>,
    /// Requests in flight.
    pub concurrency: Option<usize>,
    /// Lets the token travel over plain `http://` (a loopback test rig); default false.
    pub allow_insecure_http: Option<bool>,
}

/// `[ledger]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ledger {
    /// The ledger database (default: the user's state folder).
    pub path: Option<String>,
}

impl Config {
    /// Loads the config file `explicit`, else the first that exists of `./convsubmit.toml`
    /// and the user's config file; defaults when there is none.
    pub fn load(explicit: Option<&Path>) -> Result<Config> {
        let path = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None => [Some(PathBuf::from("convsubmit.toml")), user_config()]
                .into_iter()
                .flatten()
                .find(|p| p.is_file()),
        };
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        let mut config = Config::parse(&text)
            .with_context(|| format!("{} is not a valid convsubmit config", path.display()))?;
        config.path = Some(path);
        Ok(config)
    }

    /// Parses the text of a config file (no file system access; `path` is left unset).
    /// Any text gives a config or an error, never a panic.
    pub fn parse(text: &str) -> Result<Config> {
        Ok(toml::from_str(text)?)
    }

    /// The folder relative paths in the file are relative to.
    fn base(&self) -> PathBuf {
        self.path
            .as_deref()
            .and_then(Path::parent)
            .map_or_else(PathBuf::new, Path::to_path_buf)
    }

    /// A path from the file: `~` expanded, relative ones made relative to the file's folder.
    pub fn resolve(&self, value: &str) -> PathBuf {
        let expanded = match value.strip_prefix("~/") {
            Some(rest) => home().join(rest),
            None if value == "~" => home(),
            None => PathBuf::from(value),
        };
        if expanded.is_absolute() {
            expanded
        } else {
            self.base().join(expanded)
        }
    }

    /// Where the secret named by `env`/`file`/`command` keys comes from (exactly one may be
    /// set). `what` names the section for messages, e.g. `[sftp] password`.
    pub fn secret_source(
        &self,
        what: &str,
        env: &Option<String>,
        file: &Option<String>,
        command: &Option<String>,
    ) -> Result<Option<Source>> {
        let sources: Vec<Source> = [
            env.clone().map(Source::Env),
            file.as_deref().map(|f| Source::File(self.resolve(f))),
            command.clone().map(Source::Command),
        ]
        .into_iter()
        .flatten()
        .collect();
        match sources.len() {
            0 => Ok(None),
            1 => Ok(sources.into_iter().next()),
            _ => bail!("{what}: set only one of _env, _file and _command"),
        }
    }

    /// The ledger's path: `--ledger`, else `[ledger] path`, else the user's state folder.
    pub fn ledger_path(&self, flag: Option<&Path>) -> PathBuf {
        match (flag, &self.ledger.path) {
            (Some(p), _) => p.to_path_buf(),
            (None, Some(p)) => self.resolve(p),
            (None, None) => state_dir().join("convsubmit").join("ledger.sqlite"),
        }
    }

    /// Warnings about secret files others can read, and about this file when it names one
    /// and others can read or change it (they would learn where the secret is, or point the
    /// setting at a file of their own). Each names the file and the fix, never a secret.
    pub fn warnings(&self) -> Vec<String> {
        let files: Vec<&String> = [
            &self.sftp.password_file,
            &self.ftp.password_file,
            &self.email.password_file,
            &self.api.auth_token_file,
            &self.sftp.key_file,
        ]
        .into_iter()
        .flatten()
        .collect();
        let mut warnings: Vec<String> = files
            .iter()
            .filter_map(|f| crate::secret::check_private(&self.resolve(f)))
            .collect();
        if let Some(path) = self.path.as_deref().filter(|_| !files.is_empty()) {
            warnings.extend(crate::secret::check_config(path));
        }
        warnings
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map_or_else(|| PathBuf::from("/"), PathBuf::from)
}

fn user_config() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map_or_else(|| home().join(".config"), PathBuf::from);
    Some(base.join("convsubmit").join("convsubmit.toml"))
}

fn state_dir() -> PathBuf {
    std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map_or_else(|| home().join(".local").join("state"), PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        let mut c = Config::parse(text)?;
        c.path = Some(PathBuf::from("/etc/acme/convsubmit.toml"));
        Ok(c)
    }

    #[test]
    fn the_documented_example_parses() {
        let c = parse(
            r#"
            [sftp]
            host = "batch.impact.com"
            port = 22
            username = "acme"
            password_env = "CONVSUBMIT_SFTP_PASSWORD"
            known_hosts = "~/.ssh/known_hosts"
            remote_dir = "/"

            [ftp]
            username = "acme"
            password_env = "CONVSUBMIT_FTP_PASSWORD"
            ca_file = "corp-ca.pem"

            [email]
            smtp_host = "smtp.example.com"
            tls = "starttls"
            to = "1a2b3c@batch.impact.com"
            cc = ["ops@acme.example"]
            max_attachment_bytes = 10000000

            [api]
            account_sid = "IRxxxxxxxx"
            auth_token_env = "IMPACT_AUTH_TOKEN"
            concurrency = 4

            [ledger]
            path = "convsubmit-ledger.sqlite"
            "#,
        )
        .unwrap();
        assert_eq!(c.sftp.username.as_deref(), Some("acme"));
        assert_eq!(
            c.resolve(c.ftp.ca_file.as_deref().unwrap()),
            Path::new("/etc/acme/corp-ca.pem")
        );
        assert_eq!(
            c.ledger_path(None),
            Path::new("/etc/acme/convsubmit-ledger.sqlite")
        );
        assert!(
            c.resolve("~/.ssh/known_hosts")
                .ends_with(".ssh/known_hosts")
        );
    }

    #[test]
    fn typos_are_errors() {
        let e = parse("[sftp]\nhots = \"x\"\n").unwrap_err();
        assert!(format!("{e:#}").contains("unknown field `hots`"), "{e:#}");
        let e = parse("[sfpt]\n").unwrap_err();
        assert!(format!("{e:#}").contains("unknown field `sfpt`"), "{e:#}");
    }

    #[test]
    fn one_secret_source_at_most() {
        let c = parse("[ftp]\npassword_env = \"A\"\npassword_file = \"f\"\n").unwrap();
        let e = c
            .secret_source(
                "[ftp] password",
                &c.ftp.password_env,
                &c.ftp.password_file,
                &c.ftp.password_command,
            )
            .unwrap_err();
        assert!(e.to_string().contains("only one"));
    }
}
