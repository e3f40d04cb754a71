//! A backend that keeps the state in memory only: for runs that have no state file (teardown
//! deletes what it found by tags; the executor checkpoints after every deletion all the same).

use std::sync::Mutex;

use async_trait::async_trait;

use super::{LockInfo, StateBackend, StateError, StateVersion};
use crate::state::State;

#[derive(Default)]
pub struct Unrecorded(Mutex<Option<State>>);

#[async_trait]
impl StateBackend for Unrecorded {
    fn describe(&self) -> String {
        "(no state: teardown)".into()
    }
    async fn read(&self) -> Result<Option<State>, StateError> {
        Ok(self.0.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }
    async fn write(&self, state: &State) -> Result<(), StateError> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(state.clone());
        Ok(())
    }
    async fn lock(&self, _: &LockInfo) -> Result<(), StateError> {
        Ok(())
    }
    async fn unlock(&self, _: &LockInfo) -> Result<(), StateError> {
        Ok(())
    }
    async fn force_unlock(&self, id: &str) -> Result<LockInfo, StateError> {
        Err(StateError::NoSuchLock(id.to_owned()))
    }
    async fn delete(&self) -> Result<(), StateError> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(())
    }
    async fn list_versions(&self) -> Result<Vec<StateVersion>, StateError> {
        Ok(Vec::new())
    }
    async fn read_version(&self, id: &str) -> Result<State, StateError> {
        Err(StateError::Io(format!("teardown keeps no state, so no version {id}")))
    }
}
