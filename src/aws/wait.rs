//! Waiting for AWS to reach a state (NAT gateway available, gateway deleted, ...): a poll loop
//! with a budget, growing intervals and a progress line each time the observed state changes.

use std::future::Future;
use std::time::Duration;

use super::AwsError;

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
