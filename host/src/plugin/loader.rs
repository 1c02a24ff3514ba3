//! Plugins loaded on demand: the engine is created, and a component compiled (or loaded
//! from the compile cache), only when something needs it. Planning needs only what
//! `describe()` returned, which the compile cache keeps; a step replayed from the step
//! cache needs nothing; so a fully cached run never creates an engine.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::OnceCell;

use super::PluginSource;
use super::cache::CompileCache;
use crate::runtime::{LoadError, LoadedPlugin, Runtime};
use crate::types::PluginInfo;

type Slot = Arc<OnceCell<Result<Arc<LoadedPlugin>, LoadError>>>;

/// Loads plugins once each, on first use, concurrently.
pub struct Loader {
    cache: CompileCache,
    runtime: OnceLock<Result<Arc<Runtime>, String>>,
    slots: Mutex<HashMap<String, Slot>>,
}

impl std::fmt::Debug for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loader")
            .field("cache", &self.cache)
            .finish()
    }
}

impl Loader {
    /// A loader compiling into (and loading from) `cache`.
    pub fn new(cache: CompileCache) -> Self {
        Loader {
            cache,
            runtime: OnceLock::new(),
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The compile cache.
    pub fn cache(&self) -> &CompileCache {
        &self.cache
    }

    /// The engine, created on first use.
    pub fn runtime(&self) -> Result<Arc<Runtime>, LoadError> {
        self.runtime
            .get_or_init(|| {
                Runtime::new(self.cache.clone())
                    .map(Arc::new)
                    .map_err(|e| format!("{e:#}"))
            })
            .clone()
            .map_err(LoadError::Engine)
    }

    /// What the plugin's `describe()` returns: from the compile cache when it recorded it,
    /// else by loading the plugin (and recording it).
    pub async fn info(&self, source: &PluginSource) -> Result<PluginInfo, LoadError> {
        if let Some(info) = self.cache.info(&source.digest) {
            return Ok(info);
        }
        let loaded = self.load(source).await?;
        self.cache.save_info(&source.digest, &loaded.info);
        Ok(loaded.info.clone())
    }

    /// The plugin compiled, linked and described, once per digest however many ask at once.
    pub async fn load(&self, source: &PluginSource) -> Result<Arc<LoadedPlugin>, LoadError> {
        let slot = self
            .slots
            .lock()
            .expect("lock")
            .entry(source.digest.clone())
            .or_default()
            .clone();
        slot.get_or_init(|| async {
            let runtime = self.runtime()?;
            let known = self.cache.info(&source.digest);
            runtime.load_described(source, known).await
        })
        .await
        .clone()
    }
}
