//! `[ledger] url` (or `--ledger-url`): where a PostgreSQL ledger is, read before anything
//! connects. A password is never part of it (it would sit in the config file, or on the
//! command line for every user of the machine to see): it comes from `[ledger]
//! password_env`, `password_file` or `password_command`. The URL is shown only without one.
//!
//! `sslmode` is ours, not the driver's: `verify-full` (the default over TCP) checks the
//! server's certificate and host name, `verify-ca` the certificate only, `require` encrypts
//! without checking (or, with `[ledger] ca_file`, checks the certificate, as libpq does), and
//! `disable` is allowed only for a server on this machine (loopback or a Unix socket), where
//! the password never crosses a network. `prefer` and `allow`, which fall back to plain text
//! without a word, are refused.

use crate::secret::Source;
use ::postgres::config::Host;
use anyhow::{Result, bail};
use std::path::PathBuf;
use std::str::FromStr;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain text (a server on this machine only).
    Disable,
    /// TLS, the certificate unchecked (checked when a CA file is given).
    Require,
    /// TLS, the certificate checked, the host name not.
    VerifyCa,
    /// TLS, the certificate and the host name checked.
    VerifyFull,
}

/// A PostgreSQL ledger's address, without its password.
#[derive(Debug, Clone)]
pub struct PgUrl {
    /// The driver's settings (never a password: it is set when connecting).
    pub(super) config: ::postgres::Config,
    /// `sslmode`.
    pub(super) ssl: SslMode,
    /// Extra CA certificate (PEM) to trust (`[ledger] ca_file`).
    pub(super) ca_file: Option<PathBuf>,
    /// Where the password comes from (`[ledger] password_*`), if the server asks for one.
    pub(super) password: Option<Source>,
    /// The URL as written (it holds no password).
    display: String,
}

impl PgUrl {
    /// Parses `url`; `what` names where it came from (`[ledger] url`, `--ledger-url`).
    /// Errors never show a password the URL holds.
    pub fn parse(url: &str, what: &str) -> Result<PgUrl> {
        let shown = without_password(url);
        let Some(rest) = ["postgresql://", "postgres://"]
            .iter()
            .find_map(|s| url.strip_prefix(s))
        else {
            bail!("{what} must start with postgresql:// (it is {shown})");
        };
        let (base, query) = match rest.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (rest, None),
        };
        let mut ssl = None;
        let mut kept = vec![];
        for pair in query.into_iter().flat_map(|q| q.split('&')) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "sslmode" => {
                    ssl = Some(match value {
                        "disable" => SslMode::Disable,
                        "require" => SslMode::Require,
                        "verify-ca" => SslMode::VerifyCa,
                        "verify-full" => SslMode::VerifyFull,
                        "prefer" | "allow" => bail!(
                            "{what}: sslmode={value} would fall back to plain text without a word; \
                             use verify-full (the default), verify-ca or require, or disable for \
                             a server on this machine"
                        ),
                        _ => bail!(
                            "{what}: sslmode must be verify-full (the default), verify-ca, \
                             require or disable"
                        ),
                    })
                }
                "password" => bail!("{}", password_refused(what)),
                "sslrootcert" | "sslcert" | "sslkey" | "sslpassword" => bail!(
                    "{what}: {key} is not read from the URL; name the CA certificate with \
                     [ledger] ca_file"
                ),
                _ => kept.push(pair),
            }
        }
        let rebuilt = match kept.is_empty() {
            true => format!("postgresql://{base}"),
            false => format!("postgresql://{base}?{}", kept.join("&")),
        };
        let config = ::postgres::Config::from_str(&rebuilt).map_err(|e| {
            let why =
                std::error::Error::source(&e).map_or_else(|| e.to_string(), |s| s.to_string());
            anyhow::anyhow!(
                "{what} is not a valid PostgreSQL URL ({}): write it as \
                 postgresql://USER@HOST:PORT/DATABASE?sslmode=verify-full",
                crate::redact::redact(&why)
            )
        })?;
        if config.get_password().is_some() {
            bail!("{}", password_refused(what));
        }
        if config.get_user().is_none_or(str::is_empty) {
            bail!("{what} names no user: write it as postgresql://USER@HOST:PORT/DATABASE");
        }
        let hosts = config.get_hosts();
        if hosts.is_empty() {
            bail!("{what} names no host: write it as postgresql://USER@HOST:PORT/DATABASE");
        }
        let local = hosts.iter().all(|h| match h {
            Host::Tcp(name) => is_loopback(name),
            Host::Unix(_) => true,
        });
        let sockets = hosts.iter().all(|h| matches!(h, Host::Unix(_)));
        let ssl = match ssl {
            Some(s) => s,
            None if sockets => SslMode::Disable,
            None => SslMode::VerifyFull,
        };
        if ssl == SslMode::Disable && !local {
            bail!(
                "{what}: sslmode=disable would send the password and every record in plain text \
                 over the network; it is allowed only for a server on this machine (localhost, \
                 127.0.0.1, ::1 or a Unix socket). Use sslmode=verify-full"
            );
        }
        Ok(PgUrl {
            config,
            ssl,
            ca_file: None,
            password: None,
            display: shown,
        })
    }

    /// The same, with a CA file and a password source.
    pub fn with(mut self, ca_file: Option<PathBuf>, password: Option<Source>) -> PgUrl {
        self.ca_file = ca_file;
        self.password = password;
        self
    }

    /// The URL as people see it.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// The user it logs in as.
    pub fn user(&self) -> &str {
        self.config.get_user().unwrap_or_default()
    }

    /// `sslmode`.
    pub fn ssl(&self) -> SslMode {
        self.ssl
    }
}

fn password_refused(what: &str) -> String {
    format!(
        "{what} holds a password; a password is never kept in the URL (anyone who can read the \
         config file or the command line would have it). Remove it from the URL and put it in \
         [ledger] password_env, password_file or password_command"
    )
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `url` with the password of its `user:password@` part and any `password=` parameter
/// removed.
pub fn without_password(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (authority_end, _) = rest
        .char_indices()
        .find(|(_, c)| matches!(c, '/' | '?'))
        .unwrap_or((rest.len(), ' '));
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split_once(':').map_or(user, |(u, _)| u);
            format!("{user}@{host}")
        }
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|p| !p.starts_with("password="))
                .collect();
            match kept.is_empty() {
                true => path.to_string(),
                false => format!("{path}?{}", kept.join("&")),
            }
        }
        None => tail.to_string(),
    };
    match scheme {
        "" => format!("{authority}{tail}"),
        s => format!("{s}://{authority}{tail}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<PgUrl> {
        PgUrl::parse(url, "[ledger] url")
    }

    #[test]
    fn a_url_with_its_ssl_mode() {
        let u = parse("postgresql://ledger@db.example:5433/acme?sslmode=verify-ca").unwrap();
        assert_eq!(u.ssl(), SslMode::VerifyCa);
        assert_eq!(u.user(), "ledger");
        assert_eq!(u.config.get_ports(), &[5433]);
        assert_eq!(u.config.get_dbname(), Some("acme"));
        assert_eq!(
            u.display(),
            "postgresql://ledger@db.example:5433/acme?sslmode=verify-ca"
        );
        // Over TCP, the default verifies the certificate and the host name.
        let u = parse("postgres://ledger@db.example/acme").unwrap();
        assert_eq!(u.ssl(), SslMode::VerifyFull);
        let u =
            parse("postgresql://ledger@db.example/acme?sslmode=require&connect_timeout=5").unwrap();
        assert_eq!(u.ssl(), SslMode::Require);
        // A Unix socket needs no TLS.
        let u = parse("postgresql://ledger@%2Frun%2Fpostgresql/acme").unwrap();
        assert_eq!(u.ssl(), SslMode::Disable);
    }

    #[test]
    fn a_password_in_the_url_is_refused_and_never_shown() {
        for url in [
            "postgresql://ledger:Hunter2-secret@db.example/acme",
            "postgresql://ledger:Hunter2-secret@db.example/acme?sslmode=require",
            "postgresql://ledger@db.example/acme?password=Hunter2-secret",
            "postgresql://ledger@db.example/acme?sslmode=require&password=Hunter2-secret",
        ] {
            let e = format!("{:#}", parse(url).unwrap_err());
            assert!(e.contains("holds a password"), "{url}: {e}");
            assert!(e.contains("password_env"), "{url}: {e}");
            assert!(!e.contains("Hunter2"), "{url}: {e}");
        }
        // Whatever else is wrong with it, the password is not shown.
        for url in [
            "mysql://ledger:Hunter2-secret@db.example/acme",
            "postgresql://ledger:Hunter2-secret@db.example/acme?sslmode=prefer",
            "postgresql://ledger:Hunter2-secret@db.example/acme?sslmode=Hunter2-secret",
            "postgresql://ledger:Hunter2-secret@db.example:notaport/acme",
            "postgresql://ledger:Hunter2-secret@db.example/acme?bogus=Hunter2-secret",
        ] {
            let e = format!("{:#}", parse(url).unwrap_err());
            assert!(!e.contains("Hunter2"), "{url}: {e}");
        }
    }

    #[test]
    fn plain_text_only_on_this_machine() {
        for url in [
            "postgresql://ledger@localhost/acme?sslmode=disable",
            "postgresql://ledger@127.0.0.1:5432/acme?sslmode=disable",
            "postgresql://ledger@[::1]:5432/acme?sslmode=disable",
        ] {
            assert_eq!(parse(url).unwrap().ssl(), SslMode::Disable, "{url}");
        }
        let e = parse("postgresql://ledger@db.example/acme?sslmode=disable").unwrap_err();
        assert!(
            e.to_string().contains("only for a server on this machine"),
            "{e}"
        );
        for mode in ["prefer", "allow"] {
            let e = parse(&format!("postgresql://l@db.example/a?sslmode={mode}")).unwrap_err();
            assert!(e.to_string().contains("plain text"), "{e}");
        }
    }

    #[test]
    fn what_a_url_must_name() {
        let e = parse("postgresql://db.example/acme").unwrap_err();
        assert!(e.to_string().contains("names no user"), "{e}");
        let e = parse("postgresql://ledger@db.example/acme?sslrootcert=ca.pem").unwrap_err();
        assert!(e.to_string().contains("[ledger] ca_file"), "{e}");
        let e = parse("https://ledger@db.example/acme").unwrap_err();
        assert!(e.to_string().contains("postgresql://"), "{e}");
    }

    #[test]
    fn the_password_is_cut_from_what_is_shown() {
        assert_eq!(
            without_password("postgresql://u:p%40ss@h:5432/d?sslmode=require&password=x"),
            "postgresql://u@h:5432/d?sslmode=require"
        );
        assert_eq!(
            without_password("postgresql://u@h/d?password=x"),
            "postgresql://u@h/d"
        );
        assert_eq!(without_password("postgresql://h/d"), "postgresql://h/d");
    }
}
