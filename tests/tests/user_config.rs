//! User configuration (`user.toml` + the project's `.neuro.toml`) and plugins,
//! through a logged-in client of a real neuro-local.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use neuro_local::LocalPlatform;
use neuro_sdk::config::plugins::{ConfigBuilder, ConfigScope};
use neuro_sdk::config::user_config::{find_project_root, UserConfigProblem};
use neuro_sdk::{ConfigError, Error, Factory};
use tempfile::TempDir;

fn plugin(config: &mut ConfigBuilder) -> Result<(), ConfigError> {
    config.define_int("my-tool", "retries", ConfigScope::All)?;
    config.define_bool_list("my-tool", "flags", ConfigScope::Global)?;
    config.define_float("my-tool", "ratio", ConfigScope::Local)
}

#[tokio::test]
async fn user_toml_and_project_file_merge_and_validate() {
    let platform = LocalPlatform::builder().start().await.unwrap();
    let tmp = TempDir::new().unwrap();
    let cfg = tmp.path().join("cfg");
    let project = tmp.path().join("project");
    let nested = project.join("src/deep");
    std::fs::create_dir_all(&nested).unwrap();
    let factory = Factory::with_path(&cfg)
        .project_dir(&nested)
        .with_plugin(&plugin)
        .unwrap();
    factory
        .login_with_token(platform.admin_token(), &platform.api_url())
        .await
        .unwrap();

    std::fs::write(
        cfg.join("user.toml"),
        "[job]\nps-format = \"{id}\"\nlife-span = \"1d\"\n\
         [storage]\ncp-exclude = [\"*.tmp\"]\n\
         [my-tool]\nretries = 3\nflags = [true, false]\n\
         [alias.lsl]\ncmd = \"ls -l\"\n",
    )
    .unwrap();
    std::fs::write(
        project.join(".neuro.toml"),
        "[job]\nlife-span = \"2h\"\n[my-tool]\nratio = 0.5\nretries = 5\n",
    )
    .unwrap();
    assert_eq!(find_project_root(&nested).unwrap(), project);

    let client = factory.get().await.unwrap();
    let user = client.config().get_user_config().unwrap();
    assert_eq!(user.get_str("job", "ps-format"), Some("{id}"));
    assert_eq!(
        user.get_str("job", "life-span"),
        Some("2h"),
        "the project wins"
    );
    assert_eq!(
        user.get("my-tool", "retries").and_then(|v| v.as_integer()),
        Some(5)
    );
    assert_eq!(
        user.get("my-tool", "ratio").and_then(|v| v.as_float()),
        Some(0.5)
    );
    assert!(user.aliases().unwrap().contains_key("lsl"));
    assert_eq!(
        user.get("storage", "cp-exclude")
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Each refused file names itself and the key.
    let cases: &[(&str, &str, &str)] = &[
        ("user.toml", "[bogus]\nx = 1\n", "bogus"),
        ("user.toml", "[job]\nps-fromat = \"x\"\n", "job.ps-fromat"),
        (
            "user.toml",
            "[my-tool]\nretries = \"3\"\n",
            "my-tool.retries",
        ),
        ("user.toml", "[my-tool]\nratio = 1.0\n", "my-tool.ratio"),
        (
            "user.toml",
            "[job]\ncluster-name = \"default\"\n",
            "job.cluster-name",
        ),
        ("user.toml", "[job\n", "user.toml"),
        (
            ".neuro.toml",
            "[my-tool]\nretries = 1.5\n",
            "my-tool.retries",
        ),
        (".neuro.toml", "[alias]\nll = \"ls -l\"\n", "ll"),
        (
            ".neuro.toml",
            "[storage]\ncp-exclude = [1]\n",
            "storage.cp-exclude[0]",
        ),
    ];
    for (file, text, key) in cases {
        let dir = if *file == "user.toml" { &cfg } else { &project };
        let path = dir.join(file);
        let saved = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text).unwrap();
        let err = client.config().get_user_config().unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, ConfigError::UserConfig { .. }), "{err:?}");
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains(key), "{message} should name {key}");
        // Loading a client validates too.
        assert!(matches!(
            factory.get().await,
            Err(Error::Config(ConfigError::UserConfig { .. }))
        ));
        std::fs::write(&path, saved).unwrap();
    }
    let err = factory.get().await.err();
    assert!(err.is_none(), "{err:?}");

    // Without the plugin its section is unknown.
    let bare = Factory::with_path(&cfg).project_dir(&nested);
    match bare.load_user_config() {
        Err(Error::Config(ConfigError::UserConfig { problem, .. })) => {
            assert_eq!(
                problem,
                UserConfigProblem::UnknownSections(vec!["my-tool".into()])
            )
        }
        other => panic!("{other:?}"),
    }
    // A plugin may not define a parameter twice.
    assert!(Factory::with_path(&cfg)
        .with_plugin(&plugin)
        .unwrap()
        .with_plugin(&plugin)
        .is_err());
}
