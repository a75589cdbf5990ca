#![doc = include_str!("../README.md")]

mod docker;
mod engine;
mod error;
mod progress;
mod registry;
mod tag;

pub use engine::{EngineAddress, DEFAULT_SOCKETS};
pub use error::ImagesError;
pub use progress::{
    DockerImageProgress, ImageProgressPull, ImageProgressPush, ImageProgressStep, NoProgress,
};
pub use registry::{REPOS_PER_PAGE, TAGS_PER_PAGE};
pub use tag::Tag;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use neuro_config::Config;

use engine::Engine;

/// The Images API of one logged-in client. Cheap to clone; clones share the
/// Docker engine connection settings and the list of pulled images.
#[derive(Debug, Clone)]
pub struct Images {
    config: Config,
    docker: Arc<DockerState>,
}

/// The engine (found on first use) and the images pulled through it.
#[derive(Debug, Default)]
struct DockerState {
    /// Set by [`Images::with_engine`]; otherwise found from the environment.
    address: Option<EngineAddress>,
    engine: OnceLock<Engine>,
    /// Remote references pulled, removed from the engine by [`Images::close`].
    temporary: Mutex<BTreeSet<String>>,
}

impl Images {
    /// The Images API for `config`'s user; push and pull use the engine of
    /// `DOCKER_HOST` or the default socket ([`EngineAddress::from_env`]).
    pub fn new(config: Config) -> Self {
        Self {
            config,
            docker: Arc::default(),
        }
    }

    /// The same API with push and pull going to the engine at `address`.
    ///
    /// ```no_run
    /// # // no_run: names a Podman socket that exists only where Podman's service runs
    /// # fn demo(config: neuro_config::Config) {
    /// use neuro_images::{EngineAddress, Images};
    /// let images = Images::new(config)
    ///     .with_engine(EngineAddress::Unix("/run/user/1000/podman/podman.sock".into()));
    /// # }
    /// ```
    pub fn with_engine(self, address: EngineAddress) -> Self {
        Self {
            config: self.config,
            docker: Arc::new(DockerState {
                address: Some(address),
                ..DockerState::default()
            }),
        }
    }

    fn engine(&self) -> Result<&Engine, ImagesError> {
        if let Some(engine) = self.docker.engine.get() {
            return Ok(engine);
        }
        let address = match &self.docker.address {
            Some(address) => address.clone(),
            None => EngineAddress::from_env()?,
        };
        Ok(self.docker.engine.get_or_init(|| Engine::new(address)))
    }

    fn remember_temporary(&self, reference: &str) {
        self.docker
            .temporary
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(reference.to_owned());
    }

    fn take_temporary(&self) -> BTreeSet<String> {
        std::mem::take(
            &mut *self
                .docker
                .temporary
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}
