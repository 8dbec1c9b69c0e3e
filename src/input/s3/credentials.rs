//! Where S3 credentials and the region come from, in the AWS CLI's order, and a name for that
//! place to put in error messages (never the secret itself).
//!
//! Order: `--no-sign-request`; `--aws-profile`; `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`
//! (`AWS_SESSION_TOKEN`); web identity (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`);
//! `AWS_PROFILE`, or the `default` profile, from the shared files (`AWS_SHARED_CREDENTIALS_FILE`,
//! `AWS_CONFIG_FILE`); the ECS/EKS container role; the EC2 instance role (unless
//! `AWS_EC2_METADATA_DISABLED=true`). A profile gives static keys or a `credential_process`;
//! assume-role (`role_arn`) and SSO profiles are refused with the way round them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The credentials to sign with.
#[derive(Clone)]
pub enum Credentials {
    /// `--no-sign-request`.
    Anonymous,
    Static {
        key_id: String,
        secret: String,
        token: Option<String>,
    },
    /// Left to the S3 client's own providers, given these settings (web identity, container
    /// role, instance role).
    Provider(Vec<(&'static str, String)>),
}

/// Credentials, where they came from, and the region if the configuration names one.
pub struct Resolved {
    pub credentials: Credentials,
    pub from: String,
    pub region: Option<String>,
}

/// Resolves from the environment `env` (a snapshot, for tests) and the shared files.
pub fn resolve(env: &HashMap<String, String>, profile: Option<&str>, anonymous: bool) -> Result<Resolved> {
    let var = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();
    let named = profile.map(str::to_owned).or_else(|| var("AWS_PROFILE"));
    let files = Files::read(env)?;
    let region = var("AWS_REGION")
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .or_else(|| files.setting(named.as_deref().unwrap_or("default"), "region"));
    let done = |credentials, from: String| {
        Ok(Resolved {
            credentials,
            from,
            region: region.clone(),
        })
    };
    if anonymous {
        return done(Credentials::Anonymous, "none (--no-sign-request)".into());
    }
    if let Some(name) = profile {
        return done(files.credentials(name)?, files.describe(name));
    }
    if let (Some(key_id), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        let token = var("AWS_SESSION_TOKEN");
        return done(
            Credentials::Static {
                key_id,
                secret,
                token,
            },
            "the environment (AWS_ACCESS_KEY_ID)".into(),
        );
    }
    if let (Some(file), Some(role)) = (var("AWS_WEB_IDENTITY_TOKEN_FILE"), var("AWS_ROLE_ARN")) {
        let mut settings = vec![
            ("aws_web_identity_token_file", file),
            ("aws_role_arn", role.clone()),
        ];
        if let Some(session) = var("AWS_ROLE_SESSION_NAME") {
            settings.push(("aws_role_session_name", session));
        }
        return done(
            Credentials::Provider(settings),
            format!("web identity (role {role})"),
        );
    }
    if let Some(name) = named.as_deref() {
        return done(files.credentials(name)?, files.describe(name));
    }
    if files.has("default") {
        return done(files.credentials("default")?, files.describe("default"));
    }
    let container = [
        (
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "aws_container_credentials_relative_uri",
        ),
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "aws_container_credentials_full_uri",
        ),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            "aws_container_authorization_token_file",
        ),
    ];
    let settings: Vec<_> = container
        .iter()
        .filter_map(|(env, key)| var(env).map(|v| (*key, v)))
        .collect();
    if !settings.is_empty() {
        return done(Credentials::Provider(settings), "the container role".into());
    }
    if var("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        bail!(
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (or \
             --aws-profile), or give --no-sign-request for a public bucket"
        );
    }
    done(Credentials::Provider(Vec::new()), "the EC2 instance role".into())
}

/// The shared credentials and config files, as `profile → key → value`.
struct Files {
    credentials: (PathBuf, HashMap<String, HashMap<String, String>>),
    config: (PathBuf, HashMap<String, HashMap<String, String>>),
}

impl Files {
    fn read(env: &HashMap<String, String>) -> Result<Files> {
        let home = env
            .get("HOME")
            .map(PathBuf::from)
            .unwrap_or_default()
            .join(".aws");
        let path = |var: &str, name: &str| env.get(var).map(PathBuf::from).unwrap_or_else(|| home.join(name));
        let load = |path: PathBuf, config: bool| -> Result<_> {
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                Err(e) => return Err(e).with_context(|| format!("{}: cannot read", path.display())),
            };
            let parsed = parse_ini(&text, config);
            Ok((path, parsed))
        };
        Ok(Files {
            credentials: load(path("AWS_SHARED_CREDENTIALS_FILE", "credentials"), false)?,
            config: load(path("AWS_CONFIG_FILE", "config"), true)?,
        })
    }

    fn has(&self, profile: &str) -> bool {
        self.credentials.1.contains_key(profile) || self.config.1.contains_key(profile)
    }

    /// A setting of `profile`: the credentials file first, as the AWS CLI reads them.
    fn setting(&self, profile: &str, key: &str) -> Option<String> {
        [&self.credentials.1, &self.config.1]
            .iter()
            .find_map(|f| f.get(profile).and_then(|p| p.get(key)).cloned())
    }

    fn describe(&self, profile: &str) -> String {
        let file = if self.credentials.1.contains_key(profile) {
            &self.credentials.0
        } else {
            &self.config.0
        };
        format!("profile {profile} in {}", file.display())
    }

    fn credentials(&self, profile: &str) -> Result<Credentials> {
        if !self.has(profile) {
            bail!(
                "AWS profile {profile} not found in {} or {}",
                self.credentials.0.display(),
                self.config.0.display()
            );
        }
        let get = |k| self.setting(profile, k);
        if let (Some(key_id), Some(secret)) = (get("aws_access_key_id"), get("aws_secret_access_key")) {
            let token = get("aws_session_token");
            return Ok(Credentials::Static {
                key_id,
                secret,
                token,
            });
        }
        if let Some(command) = get("credential_process") {
            return process(profile, &command);
        }
        let kind = if get("role_arn").is_some() {
            "assume-role (role_arn)"
        } else if get("sso_session").is_some() || get("sso_start_url").is_some() {
            "SSO"
        } else {
            bail!("AWS profile {profile} has no credentials (aws_access_key_id, credential_process)");
        };
        bail!(
            "AWS profile {profile} uses {kind}, which gcorr does not resolve itself: export its \
             credentials first (eval \"$(aws configure export-credentials --profile {profile} --format env)\"), \
             or give the profile credential_process = aws configure export-credentials --profile {profile}"
        )
    }
}

/// Runs a profile's `credential_process` and reads its JSON answer.
fn process(profile: &str, command: &str) -> Result<Credentials> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Answer {
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
    }
    let out = Command::new("sh")
        .args(["-c", command])
        .output()
        .with_context(|| format!("AWS profile {profile}: cannot run its credential_process"))?;
    if !out.status.success() {
        bail!(
            "AWS profile {profile}: its credential_process failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .next()
                .unwrap_or_default()
        );
    }
    let a: Answer = serde_json::from_slice(&out.stdout).map_err(|_| {
        anyhow::anyhow!("AWS profile {profile}: its credential_process printed no credentials")
    })?;
    Ok(Credentials::Static {
        key_id: a.access_key_id,
        secret: a.secret_access_key,
        token: a.session_token,
    })
}

/// The AWS shared-file dialect of INI. In the config file a profile's section is
/// `[profile NAME]` (`[default]` for the default); in the credentials file, `[NAME]`.
fn parse_ini(text: &str, config: bool) -> HashMap<String, HashMap<String, String>> {
    let mut out: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let section = section.trim();
            current = match section.strip_prefix("profile ") {
                Some(name) if config => Some(name.trim().to_owned()),
                _ if config && section != "default" => None,
                _ => Some(section.to_owned()),
            };
            continue;
        }
        if let (Some(profile), Some((k, v))) = (&current, line.split_once('=')) {
            out.entry(profile.clone())
                .or_default()
                .insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn files(dir: &std::path::Path, credentials: &str, config: &str) -> Vec<(String, String)> {
        std::fs::write(dir.join("c"), credentials).unwrap();
        std::fs::write(dir.join("f"), config).unwrap();
        vec![
            (
                "AWS_SHARED_CREDENTIALS_FILE".into(),
                dir.join("c").display().to_string(),
            ),
            ("AWS_CONFIG_FILE".into(), dir.join("f").display().to_string()),
            ("HOME".into(), dir.display().to_string()),
        ]
    }

    fn key_id(r: &Resolved) -> &str {
        match &r.credentials {
            Credentials::Static { key_id, .. } => key_id,
            _ => "",
        }
    }

    #[test]
    fn the_aws_cli_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut e: HashMap<_, _> = files(
            dir.path(),
            "[default]\naws_access_key_id = DEF\naws_secret_access_key = s\n[ops]\naws_access_key_id=OPS\naws_secret_access_key=s\n",
            "[default]\nregion = eu-west-1\n[profile ops]\nregion = ap-south-1\n[profile role]\nrole_arn = arn:x\nsource_profile = ops\n",
        )
        .into_iter()
        .collect();
        let r = resolve(&e, None, false).unwrap();
        assert_eq!((key_id(&r), r.region.as_deref()), ("DEF", Some("eu-west-1")));
        assert!(r.from.starts_with("profile default in "), "{}", r.from);
        e.insert("AWS_PROFILE".into(), "ops".into());
        let r = resolve(&e, None, false).unwrap();
        assert_eq!((key_id(&r), r.region.as_deref()), ("OPS", Some("ap-south-1")));
        e.extend(env(&[
            ("AWS_ACCESS_KEY_ID", "ENV"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_REGION", "us-west-2"),
        ]));
        let r = resolve(&e, None, false).unwrap();
        assert_eq!((key_id(&r), r.region.as_deref()), ("ENV", Some("us-west-2")));
        assert_eq!(key_id(&resolve(&e, Some("ops"), false).unwrap()), "OPS");
        assert!(matches!(
            resolve(&e, None, true).unwrap().credentials,
            Credentials::Anonymous
        ));
        let err = resolve(&e, Some("role"), false).err().unwrap().to_string();
        assert!(err.contains("assume-role"), "{err}");
        assert!(resolve(&e, Some("nope"), false).is_err());
    }

    #[test]
    fn credential_process_and_no_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let e: HashMap<_, _> = files(
            dir.path(),
            "",
            "[profile p]\ncredential_process = echo '{\"Version\":1,\"AccessKeyId\":\"PROC\",\"SecretAccessKey\":\"s\"}'\n",
        )
        .into_iter()
        .chain(env(&[("AWS_EC2_METADATA_DISABLED", "true")]))
        .collect();
        assert_eq!(key_id(&resolve(&e, Some("p"), false).unwrap()), "PROC");
        let err = resolve(&e, None, false).err().unwrap().to_string();
        assert!(err.starts_with("no AWS credentials"), "{err}");
    }
}
