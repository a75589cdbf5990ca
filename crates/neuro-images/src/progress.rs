//! Progress of push and pull: the reference's `AbstractDockerImageProgress`
//! and its event types.

use neuro_types::{LocalImage, RemoteImage};

/// A push is starting: `src` of the local engine goes to `dst` in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageProgressPush {
    /// The local image.
    pub src: LocalImage,
    /// Where it goes.
    pub dst: RemoteImage,
}

/// A pull is starting: `src` of the registry comes to `dst` in the local engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageProgressPull {
    /// The image in the registry.
    pub src: RemoteImage,
    /// The local image it becomes.
    pub dst: LocalImage,
}

/// One line of the engine's progress about a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageProgressStep {
    /// `"<id>: <status> <progress>"`, or `"<id>: <status>"` without progress text.
    pub message: String,
    /// The layer id.
    pub layer_id: String,
    /// The status text (`Preparing`, `Pushing`, `Pull complete`, ...).
    pub status: String,
    /// Bytes done, when the engine says.
    pub current: Option<u64>,
    /// Bytes in all, when the engine says.
    pub total: Option<u64>,
}

/// Receives the progress of [`Images::push`](crate::Images::push) and
/// [`Images::pull`](crate::Images::pull) (`AbstractDockerImageProgress`). Every
/// method does nothing by default.
///
/// ```
/// use std::sync::Mutex;
/// use neuro_images::{DockerImageProgress, ImageProgressStep};
///
/// #[derive(Default)]
/// struct Layers(Mutex<Vec<String>>);
///
/// impl DockerImageProgress for Layers {
///     fn step(&self, data: &ImageProgressStep) {
///         self.0.lock().unwrap().push(data.message.clone());
///     }
/// }
/// ```
pub trait DockerImageProgress: Send + Sync {
    /// A push starts.
    fn push(&self, _data: &ImageProgressPush) {}
    /// A pull starts.
    fn pull(&self, _data: &ImageProgressPull) {}
    /// The engine reported progress on a layer.
    fn step(&self, _data: &ImageProgressStep) {}
}

/// Progress that goes nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl DockerImageProgress for NoProgress {}
