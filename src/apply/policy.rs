//! The one place that decides, for a failed AWS call, whether to try again and when.

use std::time::Duration;

use crate::aws::AwsError;

#[derive(Clone, Debug)]
pub struct RetryBudget {
    /// How long a delete may keep meeting "still in use" (ENIs of ALBs, ECS tasks and EFS
    /// mount targets linger for minutes after their owner is gone).
    pub in_use_deadline: Duration,
    /// Attempts of a create that got no answer ([`AwsError::Ambiguous`]). Throttling and other
    /// transient failures are the SDK's to retry (one retry layer): when they reach the
    /// executor, the SDK has given up.
    pub max_attempts: u32,
    /// How long, after a create got no answer, its resource is looked for by ownership tags
    /// before the create is sent again. AWS's describes are eventually consistent: EC2 documents
    /// that a new resource may take a while to show up, and Terraform's AWS provider gives EC2
    /// ids two minutes (`PropagationTimeout`) to propagate; a request whose answer was lost can
    /// itself still be in flight for up to the SDK's attempt timeout.
    pub lost_create_window: Duration,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryBudget {
    fn default() -> Self {
        RetryBudget {
            in_use_deadline: Duration::from_secs(20 * 60),
            max_attempts: 8,
            lost_create_window: Duration::from_secs(120),
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, PartialEq)]
pub enum Decision {
    Retry(Duration),
    Fail,
}

/// `attempt` counts from 1 (the call that just failed); `elapsed` since the first attempt.
pub fn error_policy(err: &AwsError, attempt: u32, elapsed: Duration, budget: &RetryBudget) -> Decision {
    let backoff = || {
        let exp = budget.base_delay.saturating_mul(1u32 << attempt.min(16).saturating_sub(1));
        // Deterministic spread so parallel retries of one run do not stay in lockstep.
        let jitter = Duration::from_millis((u64::from(attempt) * 7919) % 250);
        (exp + jitter).min(budget.max_delay)
    };
    match err {
        AwsError::Ambiguous(_) if attempt < budget.max_attempts => Decision::Retry(backoff()),
        AwsError::InUse(_) if elapsed < budget.in_use_deadline => {
            let d = backoff();
            if elapsed + d > budget.in_use_deadline {
                Decision::Retry(budget.in_use_deadline.saturating_sub(elapsed))
            } else {
                Decision::Retry(d)
            }
        }
        _ => Decision::Fail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions() {
        let b = RetryBudget {
            in_use_deadline: Duration::from_secs(60),
            max_attempts: 3,
            lost_create_window: Duration::from_secs(5),
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(10),
        };
        let t = AwsError::Ambiguous("x".into());
        assert!(matches!(error_policy(&t, 1, Duration::ZERO, &b), Decision::Retry(d) if d >= Duration::from_secs(1)));
        assert!(matches!(error_policy(&t, 2, Duration::ZERO, &b), Decision::Retry(d) if d >= Duration::from_secs(2)));
        assert_eq!(error_policy(&t, 3, Duration::ZERO, &b), Decision::Fail);
        // The SDK retried these already: one retry layer.
        assert_eq!(error_policy(&AwsError::Throttled("x".into()), 1, Duration::ZERO, &b), Decision::Fail);
        assert_eq!(error_policy(&AwsError::Transient("x".into()), 1, Duration::ZERO, &b), Decision::Fail);
        assert_eq!(error_policy(&AwsError::Blocked("a hand-made group".into()), 1, Duration::ZERO, &b), Decision::Fail);
        let busy = AwsError::InUse("DependencyViolation".into());
        assert!(
            matches!(error_policy(&busy, 30, Duration::from_secs(10), &b), Decision::Retry(d) if d <= Duration::from_secs(10))
        );
        assert!(
            matches!(error_policy(&busy, 30, Duration::from_secs(55), &b), Decision::Retry(d) if d <= Duration::from_secs(5))
        );
        assert_eq!(error_policy(&busy, 30, Duration::from_secs(60), &b), Decision::Fail);
        assert_eq!(error_policy(&AwsError::Invalid("bad".into()), 1, Duration::ZERO, &b), Decision::Fail);
        assert_eq!(error_policy(&AwsError::NotFound("x".into()), 1, Duration::ZERO, &b), Decision::Fail);
    }
}
