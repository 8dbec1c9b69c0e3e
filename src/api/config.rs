//! Where and as whom to call the Genesys Cloud API: credentials, region, base URLs.
//!
//! Pure: resolution reads the environment through a lookup function and the gc CLI profile
//! file through a path, so it is tested without touching the process's own environment.
//! Names follow Genesys's own tools (gc CLI, Terraform provider); see the reference, section 4.

use std::net::IpAddr;
use std::path::Path;

use reqwest::Url;

use super::secret::Secret;

/// Region → domain (`api.<domain>`, `login.<domain>`).
pub const REGIONS: &[(&str, &str)] = &[
    ("us-east-1", "mypurecloud.com"),
    ("us-east-2", "use2.us-gov-pure.cloud"),
    ("us-west-2", "usw2.pure.cloud"),
    ("ca-central-1", "cac1.pure.cloud"),
    ("sa-east-1", "sae1.pure.cloud"),
    ("mx-central-1", "mxc1.pure.cloud"),
    ("eu-west-1", "mypurecloud.ie"),
    ("eu-west-2", "euw2.pure.cloud"),
    ("eu-central-1", "mypurecloud.de"),
    ("eu-central-2", "euc2.pure.cloud"),
    ("eusc-de-east-1", "edee1.eusc-pure.cloud"),
    ("me-central-1", "mec1.pure.cloud"),
    ("ap-south-1", "aps1.pure.cloud"),
    ("ap-southeast-1", "apse1.pure.cloud"),
    ("ap-southeast-2", "mypurecloud.com.au"),
    ("ap-northeast-1", "mypurecloud.jp"),
    ("ap-northeast-2", "apne2.pure.cloud"),
    ("ap-northeast-3", "apne3.pure.cloud"),
];

/// Who gcorr is to the API.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// OAuth client credentials: tokens are requested and renewed.
    Client { id: String, secret: Secret },
    /// A ready access token: used as is, cannot be renewed.
    Token(Secret),
}

/// Where the API and the login service are.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub api: Url,
    pub login: Url,
    /// How to name the place in messages: a region, a domain or a URL.
    pub label: String,
}

/// What the command line says about the API (secrets never come from here).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct ApiArgs {
    /// Region (eu-west-1, us_east_1, ...) or domain (mypurecloud.ie) of the organisation
    /// [env: GENESYSCLOUD_REGION, GENESYS_ORG_DOMAIN; default us-east-1].
    #[arg(long, value_name = "REGION", help_heading = "Genesys Cloud API")]
    pub region: Option<String>,
    /// API base URL, overriding the region [env: GENESYSCLOUD_API_REGION].
    #[arg(long, value_name = "URL", help_heading = "Genesys Cloud API")]
    pub api_base: Option<String>,
    /// Login base URL (default: the API host with `api.` replaced by `login.`).
    #[arg(long, value_name = "URL", help_heading = "Genesys Cloud API")]
    pub login_base: Option<String>,
    /// Read credentials and region from this gc CLI profile in ~/.gc/config.toml.
    #[arg(long, value_name = "NAME", help_heading = "Genesys Cloud API")]
    pub profile: Option<String>,
}

impl ApiArgs {
    /// Resolves with this process's environment and home directory.
    pub fn resolve_from_env(&self) -> Result<Resolved, String> {
        let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
        resolve(self, &|k| std::env::var(k).ok(), home.as_deref())
    }
}

/// The outcome of resolution.
#[derive(Debug)]
pub struct Resolved {
    pub credentials: Option<Credentials>,
    pub endpoints: Endpoints,
}

/// Resolves credentials and endpoints. `env` looks up environment variables; `home` is the
/// user's home directory (for `~/.gc/config.toml`).
pub fn resolve(
    args: &ApiArgs,
    env: &dyn Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Result<Resolved, String> {
    let env = |k: &str| env(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let profile = match &args.profile {
        Some(name) => Some(read_profile(name, home)?),
        None => None,
    };
    let credentials = match &profile {
        Some(p) => p.credentials.clone(),
        None => env_credentials(&env)?,
    };
    let place = args
        .region
        .clone()
        .or_else(|| env("GENESYSCLOUD_REGION"))
        .or_else(|| env("GENESYS_ORG_DOMAIN"))
        .or_else(|| profile.as_ref().and_then(|p| p.environment.clone()));
    let api_base = args.api_base.clone().or_else(|| env("GENESYSCLOUD_API_REGION"));
    let endpoints = endpoints(place.as_deref(), api_base.as_deref(), args.login_base.as_deref())?;
    Ok(Resolved {
        credentials,
        endpoints,
    })
}

fn env_credentials(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<Credentials>, String> {
    let pair = |id: &str, secret: &str| match (env(id), env(secret)) {
        (Some(i), Some(s)) => Ok(Some(Credentials::Client {
            id: i,
            secret: Secret::new(s),
        })),
        (Some(_), None) => Err(format!("{id} is set but {secret} is not")),
        (None, Some(_)) => Err(format!("{secret} is set but {id} is not")),
        (None, None) => Ok(None),
    };
    if let Some(c) = pair("GENESYSCLOUD_OAUTHCLIENT_ID", "GENESYSCLOUD_OAUTHCLIENT_SECRET")? {
        return Ok(Some(c));
    }
    if let Some(c) = pair("GENESYS_CLIENT_ID", "GENESYS_CLIENT_SECRET")? {
        return Ok(Some(c));
    }
    Ok(env("GENESYSCLOUD_ACCESS_TOKEN").map(|t| Credentials::Token(Secret::new(t))))
}

struct Profile {
    credentials: Option<Credentials>,
    environment: Option<String>,
}

fn read_profile(name: &str, home: Option<&Path>) -> Result<Profile, String> {
    let home = home.ok_or("--profile: no home directory to find ~/.gc/config.toml in")?;
    let path = home.join(".gc").join("config.toml");
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("--profile {name}: {}: {e}", path.display()))?;
    let doc: toml::Table = text
        .parse()
        .map_err(|e| format!("{}: not valid TOML: {e}", path.display()))?;
    let table = doc
        .get(name)
        .and_then(|t| t.as_table())
        .ok_or_else(|| format!("{}: no profile [{name}]", path.display()))?;
    let get = |k: &str| {
        table
            .get(k)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let credentials = match (
        get("client_credentials"),
        get("client_secret"),
        get("access_token"),
    ) {
        (Some(id), Some(secret), _) => Some(Credentials::Client {
            id: id.to_owned(),
            secret: Secret::new(secret),
        }),
        (_, _, Some(token)) => Some(Credentials::Token(Secret::new(token))),
        (Some(_), None, None) => {
            return Err(format!(
                "{}: profile [{name}] has no client_secret",
                path.display()
            ));
        }
        _ => None,
    };
    Ok(Profile {
        credentials,
        environment: get("environment").map(str::to_owned),
    })
}

/// The domain of a region name (`eu-west-1`, `eu_west_1`) or of a domain (`mypurecloud.ie`,
/// also with an `api.`/`login.` prefix or a scheme).
pub fn domain_of(place: &str) -> Result<String, String> {
    let p = place.trim().to_ascii_lowercase();
    let p = p.trim_start_matches("https://").trim_end_matches('/');
    let region = p.replace('_', "-");
    if let Some((_, d)) = REGIONS.iter().find(|(r, _)| *r == region) {
        return Ok((*d).to_owned());
    }
    if p.contains('.') {
        let d = p.trim_start_matches("api.").trim_start_matches("login.");
        return Ok(d.to_owned());
    }
    let known: Vec<&str> = REGIONS.iter().map(|(r, _)| *r).collect();
    Err(format!(
        "unknown region '{place}': use one of {} or a domain such as mypurecloud.ie",
        known.join(", ")
    ))
}

fn endpoints(place: Option<&str>, api: Option<&str>, login: Option<&str>) -> Result<Endpoints, String> {
    let (api, label) = match (api, place) {
        (Some(a), _) => (parse_base(a, "--api-base")?, a.to_owned()),
        (None, Some(p)) => {
            let d = domain_of(p)?;
            (parse_base(&format!("https://api.{d}"), "--region")?, p.to_owned())
        }
        (None, None) => (
            parse_base("https://api.mypurecloud.com", "--region")?,
            "us-east-1 (the default)".to_owned(),
        ),
    };
    let login = match login {
        Some(l) => parse_base(l, "--login-base")?,
        None => login_for(&api),
    };
    Ok(Endpoints { api, login, label })
}

/// The login host is the API host with `api.` replaced by `login.` (the same host otherwise).
fn login_for(api: &Url) -> Url {
    let mut login = api.clone();
    if let Some(host) = api.host_str().and_then(|h| h.strip_prefix("api.")) {
        let _ = login.set_host(Some(&format!("login.{host}")));
    }
    login
}

/// A base URL: https, or http to a loopback host only.
pub fn parse_base(raw: &str, what: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|e| format!("{what} {raw}: not a URL ({e})"))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(format!(
                "{what} {raw}: plain http is only allowed to loopback hosts; use https"
            ));
        }
        s => return Err(format!("{what} {raw}: unsupported scheme {s}")),
    }
    if url.host().is_none() {
        return Err(format!("{what} {raw}: no host"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn regions_and_domains() {
        assert_eq!(domain_of("eu-west-1").unwrap(), "mypurecloud.ie");
        assert_eq!(domain_of("EU_WEST_1").unwrap(), "mypurecloud.ie");
        assert_eq!(domain_of("mypurecloud.de").unwrap(), "mypurecloud.de");
        assert_eq!(
            domain_of("https://api.usw2.pure.cloud/").unwrap(),
            "usw2.pure.cloud"
        );
        assert!(domain_of("mars-1").unwrap_err().contains("eu-west-1"));
    }

    #[test]
    fn endpoints_from_region_and_overrides() {
        let r = resolve(
            &ApiArgs {
                region: Some("ap-southeast-2".into()),
                ..Default::default()
            },
            &env_of(&[]),
            None,
        )
        .unwrap();
        assert_eq!(r.endpoints.api.as_str(), "https://api.mypurecloud.com.au/");
        assert_eq!(r.endpoints.login.as_str(), "https://login.mypurecloud.com.au/");
        assert!(r.credentials.is_none());
        let r = resolve(
            &ApiArgs::default(),
            &env_of(&[("GENESYSCLOUD_API_REGION", "https://api.euw2.pure.cloud")]),
            None,
        )
        .unwrap();
        assert_eq!(r.endpoints.login.as_str(), "https://login.euw2.pure.cloud/");
        let local = ApiArgs {
            api_base: Some("http://127.0.0.1:8080".into()),
            ..Default::default()
        };
        let r = resolve(&local, &env_of(&[]), None).unwrap();
        assert_eq!(r.endpoints.login.as_str(), "http://127.0.0.1:8080/");
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(parse_base("http://localhost:1", "x").is_ok());
        assert!(parse_base("http://[::1]:1", "x").is_ok());
        assert!(parse_base("http://127.0.0.2", "x").is_ok());
        assert!(
            parse_base("http://api.mypurecloud.com", "x")
                .unwrap_err()
                .contains("loopback")
        );
        assert!(parse_base("http://10.0.0.1", "x").is_err());
        assert!(parse_base("ftp://localhost", "x").is_err());
    }

    #[test]
    fn credentials_from_the_environment() {
        let c = env_credentials(&env_of(&[
            ("GENESYS_CLIENT_ID", "i"),
            ("GENESYS_CLIENT_SECRET", "s"),
        ]))
        .unwrap();
        assert!(matches!(c, Some(Credentials::Client { ref id, .. }) if id == "i"));
        let c = env_credentials(&env_of(&[("GENESYSCLOUD_ACCESS_TOKEN", "t")])).unwrap();
        assert!(matches!(c, Some(Credentials::Token(_))));
        assert!(env_credentials(&env_of(&[("GENESYSCLOUD_OAUTHCLIENT_ID", "i")])).is_err());
    }

    #[test]
    fn gc_profiles() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".gc")).unwrap();
        std::fs::write(
            home.path().join(".gc/config.toml"),
            "[DEFAULT]\nenvironment = \"mypurecloud.ie\"\nclient_credentials = \"cid\"\nclient_secret = \"sec\"\n",
        )
        .unwrap();
        let args = ApiArgs {
            profile: Some("DEFAULT".into()),
            ..Default::default()
        };
        let r = resolve(&args, &env_of(&[]), Some(home.path())).unwrap();
        assert_eq!(r.endpoints.api.as_str(), "https://api.mypurecloud.ie/");
        assert!(matches!(r.credentials, Some(Credentials::Client { ref id, .. }) if id == "cid"));
        let missing = ApiArgs {
            profile: Some("nope".into()),
            ..Default::default()
        };
        assert!(
            resolve(&missing, &env_of(&[]), Some(home.path()))
                .unwrap_err()
                .contains("[nope]")
        );
    }
}
