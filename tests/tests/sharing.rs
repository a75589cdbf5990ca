//! Permissions across users, through the SDK against a real neuro-local: what
//! another user reaches before and after sharing, roles, and service accounts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{http_status, shell_job, wait_finished, Env};
use futures::TryStreamExt;
use neuro_sdk::{
    AclFilter, Action, Client, DiskCreate, DiskLookup, Factory, Permission, SecretOptions,
};
use url::Url;

const TIMEOUT: Duration = Duration::from_secs(60);

fn url(text: &str) -> Url {
    Url::parse(text).unwrap()
}

fn one_chunk(data: &'static [u8]) -> impl futures::Stream<Item = std::io::Result<Bytes>> {
    futures::stream::iter([Ok(Bytes::from_static(data))])
}

/// Creates `dir` and `dir/file` with `data` in `client`'s storage.
async fn seed(client: &Client, dir: &str, data: &'static [u8]) {
    client.storage().mkdir(dir, true, true).await.unwrap();
    client
        .storage()
        .create(format!("{dir}/file").as_str(), one_chunk(data))
        .await
        .unwrap();
}

async fn read_all(client: &Client, uri: &str) -> Result<Vec<u8>, neuro_sdk::StorageError> {
    let chunks: Vec<Bytes> = client.storage().open(uri, 0, None).try_collect().await?;
    Ok(chunks.concat())
}

#[tokio::test]
async fn another_users_resources_are_forbidden_until_shared() {
    let env = Env::start().await;
    let alice = env.user("alice").await;
    let bob = env.user("bob").await;

    seed(&alice, "storage:folder", b"alice's data").await;
    let alice_job = alice.jobs().start(shell_job("true")).await.unwrap();
    alice
        .secrets()
        .add("pw", b"alice-secret", &SecretOptions::default())
        .await
        .unwrap();
    let disk = alice
        .disks()
        .create(DiskCreate::new(1 << 20))
        .await
        .unwrap();

    // Bob reaches none of it. Storage answers 404 for a tree the caller cannot
    // reach at all, as the real storage service does (recorded transcript);
    // the other services answer 403.
    let folder = "storage://default/alice/folder";
    assert_eq!(http_status(bob.storage().stat(folder).await), 404);
    assert_eq!(
        http_status(read_all(&bob, "storage://default/alice/folder/file").await),
        404
    );
    assert_eq!(http_status(bob.jobs().status(&alice_job.id).await), 403);
    assert_eq!(http_status(bob.jobs().kill(&alice_job.id).await), 403);
    let mut steal = shell_job("true");
    steal
        .container
        .secret_env
        .insert("PW".into(), url("secret://default/alice/pw"));
    assert_eq!(http_status(bob.jobs().start(steal).await), 403);
    assert_eq!(
        http_status(bob.disks().get(&disk.id, &DiskLookup::default()).await),
        403
    );
    assert_eq!(
        http_status(bob.disks().rm(&disk.id, &DiskLookup::default()).await),
        403
    );
    let bob_secrets: Vec<_> = bob
        .secrets()
        .list(&SecretOptions::default())
        .try_collect()
        .await
        .unwrap();
    assert!(bob_secrets.is_empty());
    let bob_disks: Vec<_> = bob.disks().list(None).try_collect().await.unwrap();
    assert!(bob_disks.is_empty());
    let bob_jobs: Vec<_> = bob
        .jobs()
        .list(neuro_sdk::JobFilter::default())
        .try_collect()
        .await
        .unwrap();
    assert!(bob_jobs.is_empty());

    // Alice shares read on the folder: Bob reads, but cannot write.
    let granted = alice
        .users()
        .share(
            "bob",
            &Permission {
                uri: url(folder),
                action: Action::Read,
            },
        )
        .await
        .unwrap();
    assert_eq!(granted.action, Action::Read);
    assert_eq!(granted.uri.as_str(), folder);
    assert!(bob.storage().stat(folder).await.unwrap().is_dir());
    assert_eq!(
        read_all(&bob, "storage://default/alice/folder/file")
            .await
            .unwrap(),
        b"alice's data"
    );
    let names: Vec<String> = bob
        .storage()
        .list("storage://default/alice")
        .map_ok(|s| s.name().to_owned())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(names, ["folder"], "only the shared entry shows");
    assert_eq!(
        http_status(
            bob.storage()
                .create("storage://default/alice/folder/bob.txt", one_chunk(b"x"))
                .await
        ),
        403
    );
    assert_eq!(
        http_status(
            bob.storage()
                .rm("storage://default/alice/folder/file", false)
                .await
        ),
        403
    );
    // Other resources stay private.
    assert_eq!(http_status(bob.jobs().status(&alice_job.id).await), 403);

    // What each side sees of the share.
    let shares = alice
        .users()
        .get_shares("alice", &AclFilter::All)
        .await
        .unwrap();
    assert!(shares.iter().any(|s| s.user == "bob"
        && s.permission.uri.as_str() == folder
        && s.permission.action == Action::Read));
    let acl = bob
        .users()
        .get_acl("bob", &AclFilter::Scheme("storage".into()))
        .await
        .unwrap();
    assert!(acl
        .iter()
        .any(|p| p.uri.as_str() == folder && p.action == Action::Read));
    assert!(acl
        .iter()
        .any(|p| p.uri.as_str() == "storage://default/bob" && p.action == Action::Manage));
    assert!(acl.iter().all(|p| p.uri.scheme() == "storage"));
    assert_eq!(
        http_status(bob.users().get_acl("alice", &AclFilter::All).await),
        403
    );
    // Bob cannot pass on what he only reads.
    assert_eq!(
        http_status(
            bob.users()
                .share(
                    "admin",
                    &Permission {
                        uri: url(folder),
                        action: Action::Read
                    }
                )
                .await
        ),
        403
    );
    // Sharing less than what is held keeps the stronger permission.
    let write = alice
        .users()
        .share(
            "bob",
            &Permission {
                uri: url(folder),
                action: Action::Write,
            },
        )
        .await
        .unwrap();
    assert_eq!(write.action, Action::Write);
    let kept = alice
        .users()
        .share(
            "bob",
            &Permission {
                uri: url(folder),
                action: Action::Read,
            },
        )
        .await
        .unwrap();
    assert_eq!(kept.action, Action::Write);
    bob.storage()
        .create("storage://default/alice/folder/bob.txt", one_chunk(b"hi"))
        .await
        .unwrap();

    // Revoked: forbidden again.
    alice.users().revoke("bob", &url(folder)).await.unwrap();
    assert_eq!(http_status(bob.storage().stat(folder).await), 404);
    assert_eq!(
        http_status(alice.users().revoke("bob", &url(folder)).await),
        404
    );

    // Sharing a job gives exactly that job, read only.
    let job_uri = alice_job.uri.clone();
    alice
        .users()
        .share(
            "bob",
            &Permission {
                uri: job_uri,
                action: Action::Read,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        bob.jobs().status(&alice_job.id).await.unwrap().id,
        alice_job.id
    );
    assert_eq!(http_status(bob.jobs().kill(&alice_job.id).await), 403);
    let listed: Vec<_> = bob
        .jobs()
        .list(neuro_sdk::JobFilter::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    wait_finished(&alice, &alice_job.id, TIMEOUT).await;

    // A shared disk can be read.
    alice
        .users()
        .share(
            "bob",
            &Permission {
                uri: disk.uri().unwrap(),
                action: Action::Read,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        bob.disks()
            .get(&disk.id, &DiskLookup::default())
            .await
            .unwrap()
            .id,
        disk.id
    );
    assert_eq!(
        http_status(bob.disks().rm(&disk.id, &DiskLookup::default()).await),
        403
    );
}

#[tokio::test]
async fn roles_pass_their_permissions_to_members() {
    let env = Env::start().await;
    let alice = env.user("alice").await;
    let bob = env.user("bob").await;
    alice
        .storage()
        .mkdir("storage:team", true, true)
        .await
        .unwrap();
    let team = "storage://default/alice/team";

    alice.users().add("alice/team").await.unwrap();
    assert_eq!(http_status(bob.users().add("alice/other").await), 403);
    assert_eq!(http_status(alice.users().add("alice/team").await), 409);
    alice
        .users()
        .share(
            "alice/team",
            &Permission {
                uri: url(team),
                action: Action::Write,
            },
        )
        .await
        .unwrap();
    assert_eq!(http_status(bob.storage().stat(team).await), 404);
    alice
        .users()
        .share(
            "bob",
            &Permission {
                uri: url("role://alice/team"),
                action: Action::Read,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        bob.users().get_subroles("bob").await.unwrap(),
        ["alice/team"]
    );
    bob.storage()
        .create("storage://default/alice/team/from-bob", one_chunk(b"b"))
        .await
        .unwrap();
    let role_acl = alice
        .users()
        .get_acl("alice/team", &AclFilter::All)
        .await
        .unwrap();
    assert!(role_acl
        .iter()
        .any(|p| p.uri.as_str() == team && p.action == Action::Write));

    alice.users().remove("alice/team").await.unwrap();
    assert!(bob.users().get_subroles("bob").await.unwrap().is_empty());
    assert_eq!(http_status(bob.storage().stat(team).await), 404);
    assert_eq!(http_status(alice.users().remove("alice/team").await), 404);
    // Users are not roles to remove.
    assert_eq!(http_status(alice.users().remove("bob").await), 403);
    let err = alice
        .users()
        .get_acl("a:b", &AclFilter::All)
        .await
        .unwrap_err();
    assert!(matches!(err, neuro_sdk::UsersError::InvalidArgument(_)));
}

#[tokio::test]
async fn service_account_tokens_act_as_their_role_until_removed() {
    let env = Env::start().await;
    let alice = env.user("alice").await;
    seed(&alice, "storage:ci-input", b"input").await;

    let (account, token) = alice
        .service_accounts()
        .create(Some("ci"), None)
        .await
        .unwrap();
    assert_eq!(account.name.as_deref(), Some("ci"));
    assert_eq!(account.owner, "alice");
    assert_eq!(account.default_cluster, "default");
    assert_eq!(account.role, "alice/service-accounts/ci");
    assert!(!format!("{token:?}").contains(&token.0));
    assert_eq!(alice.service_accounts().get("ci").await.unwrap(), account);
    assert_eq!(
        alice.service_accounts().get(&account.id).await.unwrap(),
        account
    );
    let listed: Vec<_> = alice.service_accounts().list().try_collect().await.unwrap();
    assert_eq!(listed, std::slice::from_ref(&account));
    assert_eq!(
        http_status(alice.service_accounts().create(Some("ci"), None).await),
        409
    );

    let factory = Factory::with_path(env.dir.path().join("config-ci"));
    factory
        .login_with_token(&token.0, &env.platform.api_url())
        .await
        .unwrap();
    let ci = factory.get().await.unwrap();
    assert_eq!(ci.username(), "alice/service-accounts/ci");
    let input = "storage://default/alice/ci-input";
    assert_eq!(http_status(ci.storage().stat(input).await), 404);
    alice
        .users()
        .share(
            &account.role,
            &Permission {
                uri: url(input),
                action: Action::Read,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        read_all(&ci, "storage://default/alice/ci-input/file")
            .await
            .unwrap(),
        b"input"
    );
    assert_eq!(
        http_status(
            ci.storage()
                .create("storage://default/alice/ci-input/out", one_chunk(b"o"))
                .await
        ),
        403
    );
    // Its own subtree is its own.
    ci.storage()
        .mkdir("storage:work", true, true)
        .await
        .unwrap();
    assert_eq!(
        http_status(ci.service_accounts().create(Some("nested"), None).await),
        403
    );

    alice.service_accounts().rm("ci").await.unwrap();
    assert_eq!(http_status(ci.storage().stat(input).await), 401);
    assert_eq!(http_status(alice.service_accounts().get("ci").await), 404);
    let listed: Vec<_> = alice.service_accounts().list().try_collect().await.unwrap();
    assert!(listed.is_empty());
}

#[tokio::test]
async fn a_service_account_whose_role_was_deleted_says_so_and_its_token_stops() {
    let env = Env::start().await;
    let alice = env.user("alice").await;
    let (account, token) = alice
        .service_accounts()
        .create(Some("bot"), None)
        .await
        .unwrap();
    assert!(!account.role_deleted);
    let factory = Factory::with_path(env.dir.path().join("config-bot"));
    factory
        .login_with_token(&token.0, &env.platform.api_url())
        .await
        .unwrap();
    let bot = factory.get().await.unwrap();
    bot.storage()
        .mkdir("storage:own", true, true)
        .await
        .unwrap();

    alice.users().remove(&account.role).await.unwrap();
    let got = alice.service_accounts().get("bot").await.unwrap();
    assert!(got.role_deleted, "{got:?}");
    assert_eq!(got.id, account.id);
    let listed: Vec<_> = alice.service_accounts().list().try_collect().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].role_deleted);
    assert_eq!(http_status(bot.storage().stat("storage:own").await), 401);
    // The account itself can still be removed.
    alice.service_accounts().rm("bot").await.unwrap();
    assert_eq!(http_status(alice.service_accounts().get("bot").await), 404);
}
