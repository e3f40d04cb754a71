//! What one refresh shares between kinds: reads several kinds need, made once, and the tags the
//! state recorded (so an answer from the Tagging API can be trusted only where it agrees).

use std::any::Any;
use std::collections::HashMap;

use crate::model::Tags;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use super::AwsError;

type Cell = Arc<OnceCell<Arc<dyn Any + Send + Sync>>>;

#[derive(Default)]
pub struct RefreshScope {
    cells: Mutex<HashMap<&'static str, Cell>>,
    recorded_tags: HashMap<String, Tags>,
    /// Whether tags may come from the Tagging API's index (see `tagging::tags_by_id`).
    tag_index: bool,
}

impl RefreshScope {
    /// `recorded_tags`: by physical id, the tags the state last recorded.
    pub fn new(recorded_tags: HashMap<String, Tags>) -> RefreshScope {
        RefreshScope { cells: Mutex::new(HashMap::new()), recorded_tags, tag_index: true }
    }

    /// Shared reads only, every tag read from the service itself: for a discovery without state
    /// (teardown, import), where the eventually consistent index could leave out a resource
    /// made a moment ago.
    pub fn shared_reads() -> RefreshScope {
        RefreshScope { tag_index: false, ..RefreshScope::default() }
    }

    pub fn tag_index(&self) -> bool {
        self.tag_index
    }

    pub fn recorded_tags(&self, physical_id: &str) -> Option<&Tags> {
        self.recorded_tags.get(physical_id)
    }

    /// The first caller for `key` reads; concurrent callers wait for its answer. A failed read is
    /// not remembered: the next caller tries again.
    pub(super) async fn once<T, F, Fut>(&self, key: &'static str, read: F) -> Result<Arc<T>, AwsError>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, AwsError>>,
    {
        let cell = self.cells.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_default().clone();
        let value = cell
            .get_or_try_init(|| async { read().await.map(|v| Arc::new(v) as Arc<dyn Any + Send + Sync>) })
            .await?
            .clone();
        value.downcast::<T>().map_err(|_| AwsError::Failed(format!("refresh memo `{key}` read with two types")))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn concurrent_callers_share_one_read_and_a_failure_is_not_remembered() {
        let scope = RefreshScope::default();
        let reads = AtomicUsize::new(0);
        let read = || async {
            reads.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            Ok::<_, AwsError>(vec![1, 2, 3])
        };
        let (a, b) = tokio::join!(scope.once("list", read), scope.once("list", read));
        assert_eq!(*a.unwrap(), vec![1, 2, 3]);
        assert_eq!(*b.unwrap(), vec![1, 2, 3]);
        assert_eq!(reads.load(Ordering::SeqCst), 1);

        let failed = scope.once::<u32, _, _>("other", || async { Err(AwsError::Throttled("slow down".into())) }).await;
        assert!(failed.is_err());
        let again = scope.once("other", || async { Ok::<_, AwsError>(7u32) }).await.unwrap();
        assert_eq!(*again, 7);
        assert!(scope.once::<String, _, _>("other", || async { Ok("x".to_owned()) }).await.is_err());
    }
}
