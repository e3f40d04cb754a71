//! Waiting for AWS to reach a state (NAT gateway available, gateway deleted, ...): a poll loop
//! with a budget, growing intervals and a progress line each time the observed state changes.

use std::future::Future;
use std::time::Duration;

use super::{AwsError, Cx};

#[derive(Clone, Debug)]
pub struct WaitConfig {
    /// Total budget for one wait.
    pub timeout: Duration,
    /// First poll interval; doubles up to `max_poll`.
    pub poll: Duration,
    pub max_poll: Duration,
}

impl Default for WaitConfig {
    fn default() -> Self {
        WaitConfig {
            timeout: Duration::from_secs(15 * 60),
            poll: Duration::from_secs(2),
            max_poll: Duration::from_secs(15),
        }
    }
}

/// One observation of the thing waited for.
#[derive(Debug, PartialEq)]
pub enum Poll<T> {
    Ready(T),
    /// Not there yet; the text is the state seen (e.g. "pending").
    Pending(String),
    /// A terminal state that will never become ready (e.g. NAT gateway "failed").
    Failed(String),
}

/// Polls `check` until it is ready, fails, or the budget runs out. Throttling and transient
/// errors while polling do not end the wait: the next poll simply tries again.
pub async fn wait_until<T, F, Fut>(
    cfg: &WaitConfig,
    what: &str,
    mut report: impl FnMut(&str),
    mut check: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, AwsError>>,
{
    let start = tokio::time::Instant::now();
    let mut interval = cfg.poll;
    let mut last_state = String::new();
    loop {
        match check().await {
            Ok(Poll::Ready(v)) => return Ok(v),
            Ok(Poll::Failed(state)) => return Err(AwsError::Failed(format!("{what}: {state}"))),
            Ok(Poll::Pending(state)) => {
                if state != last_state {
                    report(&format!("waiting for {what} (now {state})"));
                    last_state = state;
                }
            }
            Err(e @ (AwsError::Throttled(_) | AwsError::Transient(_))) => {
                report(&format!("waiting for {what} (retrying after: {e})"));
            }
            Err(e) => return Err(e),
        }
        let waited = start.elapsed();
        if waited + interval > cfg.timeout {
            return Err(AwsError::WaitTimeout { what: what.to_owned(), waited });
        }
        tokio::time::sleep(interval).await;
        interval = (interval * 2).min(cfg.max_poll);
    }
}

/// Polls `describe` until the resource is gone, with [`wait_until`]'s budget and progress lines
/// under `logical_id` (`waiting for {what} (now {state})`). Gone is not listed (`None`, or
/// NotFound), or listed in a state that `state` reads as ready (a `deleted` one AWS still lists
/// for a while); otherwise `state` says the state it is still in, or one it will never leave.
pub async fn wait_gone<T, F, Fut>(
    cx: &Cx,
    logical_id: &str,
    what: &str,
    mut describe: F,
    state: impl Fn(&T) -> Poll<()>,
) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, AwsError>>,
{
    let state = &state;
    wait_until(
        &cx.wait,
        what,
        |m| cx.status(logical_id, m),
        || {
            let seen = describe();
            async move {
                match seen.await {
                    Ok(Some(t)) => Ok(state(&t)),
                    Ok(None) | Err(AwsError::NotFound(_)) => Ok(Poll::Ready(())),
                    Err(e) => Err(e),
                }
            }
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn cfg() -> WaitConfig {
        WaitConfig { timeout: Duration::from_secs(60), poll: Duration::from_secs(1), max_poll: Duration::from_secs(8) }
    }

    #[tokio::test(start_paused = true)]
    async fn ready_after_pending_states_reports_each_change_once() {
        let seq = RefCell::new(
            vec![Ok(Poll::Pending("pending".into())), Ok(Poll::Pending("pending".into())), Ok(Poll::Ready(7))]
                .into_iter(),
        );
        let mut seen = vec![];
        let got = wait_until(
            &cfg(),
            "nat",
            |m| seen.push(m.to_owned()),
            || {
                let next = seq.borrow_mut().next().unwrap();
                async move { next }
            },
        )
        .await;
        assert_eq!(got, Ok(7));
        assert_eq!(seen, vec!["waiting for nat (now pending)".to_string()]);
    }

    #[tokio::test(start_paused = true)]
    async fn failed_state_ends_the_wait() {
        let got: Result<(), _> =
            wait_until(&cfg(), "nat", |_| {}, || async { Ok(Poll::Failed("failed".into())) }).await;
        assert_eq!(got, Err(AwsError::Failed("nat: failed".into())));
    }

    #[tokio::test(start_paused = true)]
    async fn budget_runs_out() {
        let start = tokio::time::Instant::now();
        let got: Result<(), _> =
            wait_until(&cfg(), "alb", |_| {}, || async { Ok(Poll::Pending("provisioning".into())) }).await;
        assert!(matches!(got, Err(AwsError::WaitTimeout { .. })), "{got:?}");
        // 1+2+4+8+8+8+8+8+8 = 55 s slept; the next 8 s would pass the 60 s budget.
        assert_eq!(start.elapsed().as_secs(), 55);
    }

    #[tokio::test(start_paused = true)]
    async fn gone_is_not_listed_not_found_or_a_state_read_as_gone() {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(vec![]));
        let sink = seen.clone();
        let cx = Cx::new("s", aws_config::SdkConfig::builder().build(), cfg())
            .with_status(std::sync::Arc::new(move |id: &str, m: &str| sink.lock().unwrap().push(format!("{id}: {m}"))));
        let state = |s: &&str| if *s == "deleted" { Poll::Ready(()) } else { Poll::Pending(s.to_string()) };
        for last in [Ok(None), Err(AwsError::NotFound("nat-1".into())), Ok(Some("deleted"))] {
            let seq = RefCell::new(vec![Ok(Some("deleting")), Ok(Some("deleting")), last].into_iter());
            let describe = || {
                let next = seq.borrow_mut().next().unwrap();
                async move { next }
            };
            assert_eq!(wait_gone(&cx, "nat", "deletion of nat-1", describe, state).await, Ok(()));
        }
        assert_eq!(*seen.lock().unwrap(), vec!["nat: waiting for deletion of nat-1 (now deleting)"; 3]);
        let failing = || async { Err::<Option<&str>, _>(AwsError::Failed("refused".into())) };
        assert_eq!(
            wait_gone(&cx, "nat", "deletion of nat-1", failing, state).await,
            Err(AwsError::Failed("refused".into()))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_while_polling_is_not_fatal() {
        let seq = RefCell::new(vec![Err(AwsError::Throttled("x".into())), Ok(Poll::Ready(()))].into_iter());
        let got = wait_until(
            &cfg(),
            "nat",
            |_| {},
            || {
                let next = seq.borrow_mut().next().unwrap();
                async move { next }
            },
        )
        .await;
        assert_eq!(got, Ok(()));
    }
}
