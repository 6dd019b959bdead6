//! What `[api]` in the config says: the base URL (checked before anything is sent), the
//! account, the token and the concurrency. Shared by `push --api` and `status`.

use super::client::check_base_url;
use crate::config::Config;
use crate::secret::Secret;
use anyhow::{Context, Result, bail};

/// What `[api]` says.
pub struct ApiSettings {
    /// `https://api.impact.com` by default.
    pub base_url: String,
    /// The account SID.
    pub account_sid: String,
    /// The auth token.
    pub token: Secret,
    /// Requests in flight.
    pub concurrency: usize,
}

impl ApiSettings {
    /// What the ledger keys queued conversions by: the base URL as a URL (`HTTPS://API.impact.com:443/`
    /// and `https://api.impact.com` are one server), then the account.
    pub fn destination(&self) -> String {
        let base = check_base_url(&self.base_url)
            .map(|u| u.as_str().trim_end_matches('/').to_string())
            .unwrap_or_else(|_| self.base_url.clone());
        format!("api:{base}/Advertisers/{}", self.account_sid)
    }
}

/// Reads `[api]`; the token only when `read_secret`.
pub fn settings(config: &Config, read_secret: bool) -> Result<ApiSettings> {
    let a = &config.api;
    let Some(sid) = a.account_sid.clone() else {
        bail!("no account: set account_sid under [api] in convsubmit.toml");
    };
    let Some(source) = config.secret_source(
        "[api] auth token",
        &a.auth_token_env,
        &a.auth_token_file,
        &a.auth_token_command,
    )?
    else {
        bail!(
            "no auth token: set auth_token_env (or auth_token_file, auth_token_command) under [api]"
        );
    };
    let token = if read_secret {
        source.read().context("cannot read the [api] auth token")?
    } else {
        Secret::new("")
    };
    let base_url = a
        .base_url
        .clone()
        .unwrap_or_else(|| "https://api.impact.com".into())
        .trim_end_matches('/')
        .to_string();
    check_base(&base_url, a.allow_insecure_http.unwrap_or(false))?;
    Ok(ApiSettings {
        base_url,
        account_sid: sid,
        token,
        concurrency: a.concurrency.unwrap_or(4).clamp(1, 64),
    })
}

/// Refuses a `base_url` that is not an http(s) base, and plain http without the opt-in:
/// configuration errors, found before anything is sent (a retry would not change them).
fn check_base(base_url: &str, allow_insecure_http: bool) -> Result<()> {
    // The value may hold a password (`https://user:pw@…`): it is not echoed.
    let url = check_base_url(base_url).map_err(|why| {
        anyhow::anyhow!(
            "base_url under [api] cannot be used: {why}\n  help: set base_url = \"https://api.impact.com\" (the default) or your test server's https:// address"
        )
    })?;
    if url.scheme() == "http" && !allow_insecure_http {
        bail!(
            "base_url under [api] is plain http ({}): the auth token would travel in clear text\n  help: use https://, or, for a local test rig, set allow_insecure_http = true under [api]",
            url.origin().ascii_serialization()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_base(base: &str) -> ApiSettings {
        ApiSettings {
            base_url: base.into(),
            account_sid: "IRsid".into(),
            token: Secret::new("t"),
            concurrency: 1,
        }
    }

    #[test]
    fn one_server_written_two_ways_is_one_ledger_destination() {
        let a = with_base("https://api.impact.com").destination();
        assert_eq!(a, "api:https://api.impact.com/Advertisers/IRsid");
        assert_eq!(with_base("HTTPS://API.Impact.com:443").destination(), a);
        assert_eq!(with_base("https://api.impact.com/").destination(), a);
        assert_ne!(with_base("https://api.impact.com:8443").destination(), a);
    }
}
