#![doc = include_str!("../README.md")]

mod error;
mod registry;
mod tag;

pub use error::ImagesError;
pub use registry::{REPOS_PER_PAGE, TAGS_PER_PAGE};
pub use tag::Tag;

use neuro_config::Config;

/// The Images API of one logged-in client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Images {
    config: Config,
}

impl Images {
    /// The Images API for `config`'s user.
    pub fn new(config: Config) -> Self {
        Self { config }
    }
}
