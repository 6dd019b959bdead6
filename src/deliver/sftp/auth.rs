//! Logging in over SSH: a key, a password, or both (impact.com's SFTP Connections provision
//! an RSA key *and* a password; a server may require both, as OpenSSH's
//! `AuthenticationMethods publickey,password` does). The key is offered first; the password
//! follows when the server asks for more (partial success) or took the key for nothing, by
//! the `password` method or, where a server offers only that, by answering its
//! keyboard-interactive prompts.

use super::classify;
use crate::deliver::DeliveryError;
use crate::secret::Secret;
use ssh2::{ErrorCode, KeyboardInteractivePrompt, Prompt, Session};
use std::path::PathBuf;

/// How the client proves who it is: a key, a password, or both.
#[derive(Debug, Clone)]
pub struct Auth {
    /// A private key file.
    pub key: Option<KeyFile>,
    /// A password.
    pub password: Option<Secret>,
}

/// A private key file, with its passphrase if it has one.
#[derive(Debug, Clone)]
pub struct KeyFile {
    /// The private key (OpenSSH or PEM format).
    pub path: PathBuf,
    /// Its passphrase.
    pub passphrase: Option<Secret>,
}

/// Logs `user` in; returns the methods the server accepted, in order
/// (`["publickey", "password"]`).
pub fn login(
    session: &Session,
    user: &str,
    auth: &Auth,
) -> Result<Vec<&'static str>, DeliveryError> {
    let mut accepted = vec![];
    let mut refused = vec![];
    if let Some(key) = &auth.key {
        let result = session.userauth_pubkey_file(
            user,
            None,
            &key.path,
            key.passphrase.as_ref().map(Secret::expose),
        );
        if session.authenticated() {
            return Ok(vec!["publickey"]);
        }
        transient(&result)?;
        // A server that took the key as a first factor no longer lists `publickey`.
        match remaining(session, user)? {
            left if !left.contains("publickey") => accepted.push("publickey"),
            _ => refused.push(why("the key", &result)),
        }
    }
    if let Some(password) = &auth.password {
        let (method, result) = second(session, user, password)?;
        if session.authenticated() {
            accepted.push(method);
            return Ok(accepted);
        }
        refused.push(why(&format!("the password ({method})"), &result));
    }
    Err(refusal(user, &accepted, &refused, auth))
}

/// Sends the password by the method the server offers now; the method and what came of it.
fn second(
    session: &Session,
    user: &str,
    password: &Secret,
) -> Result<(&'static str, Result<(), ssh2::Error>), DeliveryError> {
    let left = remaining(session, user)?;
    let (method, result) = if !left.contains("password") && left.contains("keyboard-interactive") {
        let mut answer = Answer(password);
        let result = session.userauth_keyboard_interactive(user, &mut answer);
        ("keyboard-interactive", result)
    } else {
        (
            "password",
            session.userauth_password(user, password.expose()),
        )
    };
    transient(&result)?;
    Ok((method, result))
}

/// `what`, and libssh2's reason when it gave one (an unreadable key file, say).
fn why(what: &str, result: &Result<(), ssh2::Error>) -> String {
    match result {
        Err(e) => format!("{what}: {}", e.message()),
        Ok(()) => what.to_string(),
    }
}

/// The methods the server still accepts (`publickey,password`).
fn remaining(session: &Session, user: &str) -> Result<String, DeliveryError> {
    if session.authenticated() {
        return Ok(String::new());
    }
    session
        .auth_methods(user)
        .map(str::to_string)
        .map_err(|e| classify("login", &e))
}

/// A refused login is the caller's to report; a broken connection or a timeout is
/// temporary.
fn transient(result: &Result<(), ssh2::Error>) -> Result<(), DeliveryError> {
    match result {
        Err(e) if matches!(e.code(), ErrorCode::Session(-13 | -43 | -7 | -9)) => {
            Err(classify("login", e))
        }
        _ => Ok(()),
    }
}

/// The error of a login the server refused, naming what it took and what it refused.
fn refusal(user: &str, accepted: &[&str], refused: &[String], auth: &Auth) -> DeliveryError {
    let took = match accepted {
        [] => String::new(),
        a => format!("accepted {}, then ", a.join(" and ")),
    };
    let what = if refused.is_empty() {
        "asked for more than the configured key".to_string()
    } else {
        format!("refused {}", refused.join("; and "))
    };
    let help = match (&auth.key, &auth.password) {
        (Some(_), None) if !accepted.is_empty() => {
            "the server wants a password too: set password_env (or password_file, password_command) under [sftp] beside key_file"
        }
        (Some(_), None) => {
            "check the username, and that the server lists the key's public half for it"
        }
        (None, _) => "check the username and the password variable or file named in the config",
        (Some(_), Some(_)) if !accepted.is_empty() => {
            "the key was accepted; check the password variable or file named under [sftp]"
        }
        (Some(_), Some(_)) => {
            "check the username, the key (the server must list its public half) and the password named under [sftp]"
        }
    };
    DeliveryError::permanent("login", format!("the server {took}{what} for {user}")).help(help)
}

/// Answers keyboard-interactive prompts with the password (a server that offers only that
/// method asks for it as a prompt, e.g. `Password: `).
struct Answer<'a>(&'a Secret);

impl KeyboardInteractivePrompt for Answer<'_> {
    fn prompt<'b>(
        &mut self,
        _username: &str,
        _instructions: &str,
        prompts: &[Prompt<'b>],
    ) -> Vec<String> {
        prompts
            .iter()
            .map(|_| self.0.expose().to_string())
            .collect()
    }
}
