//! Shows the stored login, optionally logging in first.
//!
//! ```sh
//! cargo run -p neuro-sdk --example whoami
//! cargo run -p neuro-sdk --example whoami -- --login http://127.0.0.1:8080/api/v1 <token>
//! ```
//!
//! The config directory is `$NEUROMATION_CONFIG` or `~/.neuro`, the one the Python
//! CLI uses, so a login made here is seen by `neuro config show` and the other way
//! round.

use neuro_sdk::Factory;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let factory = Factory::new();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => {}
        [flag, url, token] if flag == "--login" => {
            factory.login_with_token(token, &url.parse()?).await?;
            println!("logged in; config stored in {}", factory.path().display());
        }
        _ => return Err("usage: whoami [--login API_URL TOKEN]".into()),
    }
    let client = factory.get().await?;
    let config = client.config();
    println!("user:    {}", config.username());
    println!("api url: {}", config.api_url());
    println!("cluster: {}", config.cluster_name());
    println!("org:     {}", config.org_name().unwrap_or("NO_ORG"));
    println!("presets:");
    for (name, preset) in config.presets().iter() {
        println!(
            "  {name:<12} cpu {:>5}  memory {:>6} MiB  {} credits/h",
            preset.cpu,
            preset.memory_mb(),
            preset.credits_per_hour
        );
    }
    Ok(())
}
