//! OAuth logins, token refresh, passed config and cluster/org switching against
//! a real neuro-local, with a test "browser" that follows redirects over TCP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::browser::{open, shown_code};
use common::wait_finished;
use neuro_local::{LocalPlatform, RunningPlatform};
use neuro_sdk::{ConfigError, Error, Factory, JobStart, RemoteImage};
use tempfile::TempDir;
use url::Url;

/// The browser login listens on the fixed callback ports 54540-54542: one
/// browser login at a time in this binary.
static CALLBACK_PORTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn platform() -> RunningPlatform {
    LocalPlatform::builder()
        .oauth_user("alice")
        .start()
        .await
        .expect("start neuro-local")
}

fn stored(dir: &std::path::Path) -> (String, f64, String) {
    let conn = rusqlite::Connection::open(dir.join("db")).unwrap();
    conn.query_row(
        "SELECT token, expiration_time, refresh_token FROM main",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .unwrap()
}

fn expire_stored_token(dir: &std::path::Path) {
    let conn = rusqlite::Connection::open(dir.join("db")).unwrap();
    conn.execute("UPDATE main SET expiration_time = 1.0", [])
        .unwrap();
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[tokio::test]
async fn browser_login_follows_the_redirects_and_stores_a_refreshable_token() {
    let _ports = CALLBACK_PORTS.lock().await;
    let platform = platform().await;
    let tmp = TempDir::new().unwrap();
    let factory = Factory::with_path(tmp.path().join("cfg"));
    let mut seen = None;
    factory
        .login(
            |url| {
                seen = Some(url.clone());
                async move {
                    let page = open(url).await;
                    assert_eq!(page.status, 200, "{page:?}");
                    assert_eq!(page.body, "OK");
                    // authorize -> loopback callback with the code and our state.
                    let callback = page.visited.last().unwrap();
                    assert_eq!(callback.host_str(), Some("127.0.0.1"));
                    assert!((54540..=54542).contains(&callback.port().unwrap()));
                    let query: Vec<_> = callback.query_pairs().into_owned().collect();
                    assert!(query.iter().any(|(k, _)| k == "code"));
                    assert!(query.iter().any(|(k, _)| k == "state"));
                }
            },
            &platform.api_url(),
        )
        .await
        .unwrap();
    let url = seen.unwrap();
    assert_eq!(url.path(), "/oauth/authorize");
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["client_id"], "neuro-local");
    assert_eq!(q["scope"], "offline_access");
    assert!(q["redirect_uri"].starts_with("http://127.0.0.1:5454"));

    let client = factory.get().await.unwrap();
    assert_eq!(client.username(), "alice");
    client
        .storage()
        .mkdir("storage:from-browser", true, true)
        .await
        .unwrap();
    let (token, expires, refresh) = stored(factory.path());
    assert!(!token.is_empty() && !refresh.is_empty());
    // Refreshed after three quarters of the one-day lifetime.
    assert!(
        (expires - (now() + 86_400.0 * 0.75)).abs() < 120.0,
        "{expires}"
    );
}

#[tokio::test]
async fn headless_login_takes_the_code_from_the_platform_page() {
    let platform = platform().await;
    let tmp = TempDir::new().unwrap();
    let factory = Factory::with_path(tmp.path().join("cfg"));
    let headless = Url::parse(&format!("{}oauth/show-code", platform.base_url())).unwrap();
    factory
        .login_headless(
            |url| async move {
                let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
                assert_eq!(q["redirect_uri"], headless.as_str());
                let page = open(url).await;
                assert_eq!(page.status, 200);
                Ok::<_, std::io::Error>(shown_code(&page))
            },
            &platform.api_url(),
        )
        .await
        .unwrap();
    let client = factory.get().await.unwrap();
    assert_eq!(client.username(), "alice");

    // A callback error fails the login with the callback's error.
    let other = Factory::with_path(tmp.path().join("other"));
    let err = other
        .login_headless(
            |_| async { Err::<String, _>(std::io::Error::other("user gave up")) },
            &platform.api_url(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Config(ConfigError::Callback(_))),
        "{err:?}"
    );
    assert!(!other.is_config_present());
}

#[tokio::test]
async fn a_code_is_single_use_and_bound_to_its_verifier() {
    let platform = platform().await;
    let tmp = TempDir::new().unwrap();
    let factory = Factory::with_path(tmp.path().join("cfg"));
    let token_url = format!("{}oauth/token", platform.base_url());
    let err = factory
        .login_headless(
            |url| async move {
                let code = shown_code(&open(url.clone()).await);
                let redirect = url
                    .query_pairs()
                    .find(|(k, _)| k == "redirect_uri")
                    .unwrap()
                    .1
                    .into_owned();
                // Someone who stole the code but not the verifier burns it.
                let status = post_form(
                    &token_url,
                    &[
                        ("grant_type", "authorization_code"),
                        ("code", &code),
                        ("code_verifier", &"x".repeat(43)),
                        ("client_id", "neuro-local"),
                        ("redirect_uri", &redirect),
                    ],
                )
                .await;
                assert_eq!(status, 400);
                Ok::<_, std::io::Error>(code)
            },
            &platform.api_url(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Config(ConfigError::Auth { .. })),
        "{err:?}"
    );
    assert!(!factory.is_config_present());
}

async fn post_form(url: &str, form: &[(&str, &str)]) -> u16 {
    use http_body_util::Full;
    use hyper_util::client::legacy::Client;
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let client: Client<_, Full<bytes::Bytes>> =
        Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let request = hyper::Request::post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(bytes::Bytes::from(body)))
        .unwrap();
    client.request(request).await.unwrap().status().as_u16()
}

#[tokio::test]
async fn expired_tokens_are_refreshed_and_stored_without_corrupting_the_config() {
    let _ports = CALLBACK_PORTS.lock().await;
    let platform = platform().await;
    let tmp = TempDir::new().unwrap();
    let factory = Factory::with_path(tmp.path().join("cfg"));
    factory
        .login(
            |url| async move {
                open(url).await;
            },
            &platform.api_url(),
        )
        .await
        .unwrap();
    let (old_token, _, refresh) = stored(factory.path());
    expire_stored_token(factory.path());

    // Two clients (as two processes would) with the expired token, many
    // requests at once.
    let a = factory.get().await.unwrap();
    let b = factory.get().await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..6 {
        let client = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            client
                .storage()
                .mkdir(&format!("storage:refresh-{i}"), true, true)
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let (new_token, expires, new_refresh) = stored(factory.path());
    assert_ne!(new_token, old_token);
    assert_eq!(new_refresh, refresh, "the refresh token is kept");
    assert!(expires > now());
    // Each client refreshed at most once; the row holds one of their tokens whole.
    let (ta, tb) = (
        a.config().token().await.unwrap(),
        b.config().token().await.unwrap(),
    );
    assert!(ta != old_token && tb != old_token);
    assert!(new_token == ta || new_token == tb);
    // The database is intact and the next client needs no refresh.
    let c = factory.get().await.unwrap();
    assert_eq!(c.config().token().await.unwrap(), new_token);

    // A token without a refresh token cannot be refreshed: a clear error.
    let plain = Factory::with_path(tmp.path().join("plain"));
    let token = platform.create_user("bob").await.unwrap();
    plain
        .login_with_token(&token, &platform.api_url())
        .await
        .unwrap();
    expire_stored_token(plain.path());
    let client = plain.get().await.unwrap();
    let err = client.config().token().await.unwrap_err();
    assert!(matches!(err, ConfigError::Auth { .. }), "{err:?}");
    assert!(err.to_string().contains("login again"), "{err}");
}

#[tokio::test]
async fn logout_with_browser_visits_the_logout_page() {
    let platform = platform().await;
    let tmp = TempDir::new().unwrap();
    let factory = Factory::with_path(tmp.path().join("cfg"));
    factory
        .login_with_token(platform.admin_token(), &platform.api_url())
        .await
        .unwrap();
    let mut status = 0;
    factory
        .logout_with_browser(|url| {
            assert!(url
                .as_str()
                .ends_with("/oauth/logout?client_id=neuro-local"));
            let status = &mut status;
            async move {
                *status = open(url).await.status;
            }
        })
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(!factory.is_config_present());
}

#[tokio::test]
async fn switch_cluster_and_org_for_real() {
    let platform = LocalPlatform::builder()
        .orgs(vec![None, Some("acme".into())])
        .extra_cluster("second", vec![Some("beta".into()), Some("alpha".into())])
        .start()
        .await
        .unwrap();
    let tmp = TempDir::new().unwrap();
    let project = tmp.path().join("project");
    std::fs::create_dir(&project).unwrap();
    let factory = Factory::with_path(tmp.path().join("cfg")).project_dir(&project);
    factory
        .login_with_token(platform.admin_token(), &platform.api_url())
        .await
        .unwrap();
    let mut client = factory.get().await.unwrap();
    assert_eq!(client.cluster_name(), "default");
    assert_eq!(client.config().org_name(), None);
    let names: Vec<_> = client
        .config()
        .clusters()
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["default", "second"]);

    client.switch_org(Some("acme")).await.unwrap();
    assert_eq!(client.config().org_name(), Some("acme"));
    assert_eq!(
        factory.get().await.unwrap().config().org_name(),
        Some("acme")
    );
    let err = client.switch_org(Some("nope")).await.unwrap_err();
    assert!(
        matches!(err, Error::Config(ConfigError::UnknownOrg { .. })),
        "{err:?}"
    );

    // "acme" is not an org of "second", nor is "no org": the first by name.
    client.switch_cluster("second").await.unwrap();
    assert_eq!(client.cluster_name(), "second");
    assert_eq!(client.config().org_name(), Some("alpha"));
    let again = factory.get().await.unwrap();
    assert_eq!(
        (again.cluster_name(), again.config().org_name()),
        ("second", Some("alpha"))
    );
    let err = client.switch_cluster("nope").await.unwrap_err();
    assert!(
        matches!(err, Error::Config(ConfigError::UnknownCluster { .. })),
        "{err:?}"
    );
    client.fetch_config().await.unwrap();
    assert_eq!(client.cluster_name(), "second");

    // A project that pins the cluster and org wins and cannot be switched.
    std::fs::write(
        project.join(".neuro.toml"),
        "[job]\ncluster-name = \"default\"\norg-name = \"NO_ORG\"\n",
    )
    .unwrap();
    let mut pinned = factory.get().await.unwrap();
    assert_eq!(pinned.cluster_name(), "default");
    assert_eq!(pinned.config().org_name(), None);
    let err = pinned.switch_cluster("second").await.unwrap_err();
    assert!(matches!(
        err,
        Error::Config(ConfigError::ProjectOverride { what: "cluster" })
    ));
    let err = pinned.switch_org(Some("acme")).await.unwrap_err();
    assert!(matches!(
        err,
        Error::Config(ConfigError::ProjectOverride { what: "org" })
    ));
}

#[tokio::test]
async fn passed_config_inside_a_job_logs_the_owner_in() {
    let platform = LocalPlatform::builder()
        .extra_cluster("second", vec![None])
        .start()
        .await
        .unwrap();
    let tmp = TempDir::new().unwrap();
    let factory = Factory::with_path(tmp.path().join("cfg"));
    factory
        .login_with_token(platform.admin_token(), &platform.api_url())
        .await
        .unwrap();
    let client = factory.get().await.unwrap();
    let out = tmp.path().join("passed");
    let mut job = JobStart::new(
        RemoteImage::new_external_image("ubuntu", None, Some("latest".into())),
        "cpu-small",
    );
    job.container.command = Some(format!(
        "sh -c 'printenv NEURO_PASSED_CONFIG > {}'",
        out.display()
    ));
    job.options.pass_config = true;
    let job = client.jobs().start(job).await.unwrap();
    let done = wait_finished(&client, &job.id, Duration::from_secs(60)).await;
    assert!(done.status.is_finished());
    let passed = std::fs::read_to_string(&out).unwrap();

    let inside = Factory::with_path(tmp.path().join("inside"));
    inside
        .login_with_passed_config(Some(passed.trim()))
        .await
        .unwrap();
    let job_client = inside.get().await.unwrap();
    assert_eq!(job_client.username(), "admin");
    assert_eq!(job_client.cluster_name(), "default");
    job_client
        .storage()
        .mkdir("storage:from-job", true, true)
        .await
        .unwrap();

    let err = Factory::with_path(tmp.path().join("bad"))
        .login_with_passed_config(Some("bm90IGpzb24="))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Config(ConfigError::PassedConfig { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn corrupt_or_foreign_configs_say_what_to_do() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = TempDir::new().unwrap();
    let make = |name: &str| {
        let dir = tmp.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        dir
    };
    let seal = |dir: &std::path::Path| {
        std::fs::set_permissions(dir.join("db"), std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    // Not SQLite at all.
    let garbage = make("garbage");
    std::fs::write(garbage.join("db"), b"this is not sqlite").unwrap();
    seal(&garbage);
    // The layout of an older client (no org_name column).
    let old = make("old");
    let conn = rusqlite::Connection::open(old.join("db")).unwrap();
    conn.execute_batch(
        "CREATE TABLE main (auth_config TEXT, token TEXT, expiration_time REAL, \
         refresh_token TEXT, url TEXT, admin_url TEXT, version TEXT, cluster_name TEXT, \
         clusters TEXT, timestamp REAL); \
         INSERT INTO main VALUES ('{}', 't', 0, '', 'http://h/api/v1', NULL, '21.1.1', 'c', '[]', 1);",
    )
    .unwrap();
    seal(&old);
    // The right layout with unreadable content.
    let bad_json = make("bad-json");
    let conn = rusqlite::Connection::open(bad_json.join("db")).unwrap();
    conn.execute_batch(&format!(
        "{}; INSERT INTO main VALUES ('{{not json', 't', 0, '', 'http://h/api/v1', NULL, \
         '22.7.1', 'c', NULL, '[]', 1);",
        neuro_types::wire::stored_config::MAIN_TABLE_SQL
    ))
    .unwrap();
    seal(&bad_json);
    for dir in [garbage, old, bad_json] {
        let err = Factory::with_path(&dir).get().await.unwrap_err();
        assert!(
            matches!(err, Error::Config(ConfigError::Malformed { .. })),
            "{}: {err:?}",
            dir.display()
        );
        assert!(
            err.to_string().contains("Please logout and login again"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn factory_get_makes_no_request_unless_a_refresh_is_due() {
    let rec = common::recorder::Recorder::start().await;
    let config_dir = rec.dir.path().join("config");
    let factory = Factory::with_path(&config_dir);
    let client = factory.get().await.unwrap();
    assert_eq!(client.username(), "alice");
    assert!(rec.take_lines().is_empty(), "Factory::get sent requests");

    // A headless login through the proxy, then an expired token: one refresh
    // (form-encoded, to the token endpoint), then the request itself.
    let oauth_dir = rec.dir.path().join("oauth");
    let oauth = Factory::with_path(&oauth_dir);
    let api_url: Url = format!("http://{}/api/v1", rec.addr()).parse().unwrap();
    oauth
        .login_headless(
            |url| async move { Ok::<_, std::io::Error>(shown_code(&open(url).await)) },
            &api_url,
        )
        .await
        .unwrap();
    expire_stored_token(&oauth_dir);
    rec.take();
    let client = oauth.get().await.unwrap();
    assert!(rec.take_lines().is_empty());
    client
        .storage()
        .mkdir("storage:x", true, true)
        .await
        .unwrap();
    let recorded = rec.take();
    assert_eq!(recorded[0].line(), "POST /oauth/token");
    assert_eq!(
        recorded[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form = String::from_utf8_lossy(&recorded[0].body).into_owned();
    assert!(
        form.starts_with("grant_type=refresh_token&refresh_token="),
        "{form}"
    );
    assert!(form.ends_with("&client_id=neuro-local"), "{form}");
    assert!(
        recorded[1]
            .line()
            .starts_with("PUT /api/v1/storage/alice/x"),
        "{}",
        recorded[1].line()
    );
    assert_eq!(recorded.len(), 2);
}
