//! `gcorr auth check`: can correlate enrich? Resolve the configuration as correlate does,
//! request a token, and try one cheap call per source.

use std::io::Write;

use anyhow::{Context, Result};

use super::auth::Auth;
use super::config::{ApiArgs, Credentials};
use super::http::{self, Timeouts};

/// A conversation id that exists nowhere: asking for it costs nothing and shows the permission.
const PROBE: &str = "00000000-0000-4000-8000-000000000000";

/// Prints what works and what is missing to `out`, one `label: value` line each with the
/// values aligned; true when correlate could enrich.
pub fn check(args: &ApiArgs, out: &mut dyn Write) -> Result<bool> {
    let resolved = args.resolve_from_env().map_err(anyhow::Error::msg)?;
    let e = &resolved.endpoints;
    writeln!(out, "region:        {}", e.label)?;
    writeln!(out, "API:           {}", e.api)?;
    writeln!(out, "login:         {}", e.login)?;
    let Some(credentials) = resolved.credentials else {
        writeln!(
            out,
            "credentials:   none. Set GENESYSCLOUD_OAUTHCLIENT_ID and GENESYSCLOUD_OAUTHCLIENT_SECRET, \
             or GENESYSCLOUD_ACCESS_TOKEN, or use --profile NAME"
        )?;
        return Ok(false);
    };
    let kind = match &credentials {
        Credentials::Client { id, .. } => format!("OAuth client {id}"),
        Credentials::Token(_) => "a ready token (GENESYSCLOUD_ACCESS_TOKEN)".to_owned(),
    };
    writeln!(out, "credentials:   {kind}")?;
    let client = http::client(Timeouts::default()).context("cannot set up the HTTP client")?;
    let auth = Auth::new(credentials, e.login.clone(), e.label.clone(), None);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let token = match auth.token(&client).await {
            Ok(t) => t,
            Err(err) => {
                writeln!(out, "token:         FAILED: {err}")?;
                return Ok(false);
            }
        };
        match auth.lifetime() {
            Some(l) => writeln!(out, "token:         ok, valid for {} s", l.as_secs())?,
            None => writeln!(out, "token:         a ready token (its lifetime is not known)")?,
        }
        let probes = [
            (
                "conversations",
                format!("api/v2/conversations/{PROBE}"),
                404,
                "conversation:communication:view",
            ),
            (
                "analytics",
                format!("api/v2/analytics/conversations/details?id={PROBE}"),
                200,
                "analytics:conversationDetail:view",
            ),
        ];
        let mut usable = false;
        for (source, path, fine, permission) in probes {
            let url = e.api.join(&path)?;
            let verdict = match http::get(&client, url, token.value.expose()).await {
                Ok(a) if a.status == fine || (200..300).contains(&a.status) => "ok".to_owned(),
                Ok(a) if a.status == 403 => format!("MISSING the {permission} permission (403)"),
                Ok(a) if a.status == 401 => "REFUSED the token (401)".to_owned(),
                Ok(a) => format!("unexpected HTTP {}", a.status),
                Err(f) => format!("FAILED: {}", f.message()),
            };
            if source == "conversations" {
                usable = verdict == "ok";
            }
            writeln!(out, "{:<15}{verdict} (--source {source})", format!("{source}:"))?;
        }
        Ok(usable)
    })
}
