//! Everything the kinds share about talking to AWS: one `SdkConfig` for all clients, client
//! construction with the endpoint override in one place, error classification, and waiters.

mod error;
mod scope;
pub mod tagging;
mod wait;

pub use error::{AwsError, all_items, classify, classify_code, classify_unretried};
pub use scope::RefreshScope;
pub use wait::{Poll, WaitConfig, wait_gone, wait_until};

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Settings that decide where and how rprov talks to AWS, resolved once from flags and env.
#[derive(Clone, Debug, Default)]
pub struct AwsSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
}

/// Loads the standard AWS configuration chain (env, profiles, SSO, IMDS). The stack's own region
/// is the fallback when neither a flag nor the environment names one.
pub async fn load_sdk_config(settings: &AwsSettings, stack_region: &str) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(p) = &settings.profile {
        loader = loader.profile_name(p);
    }
    let region = settings.region.clone().unwrap_or_else(|| stack_region.to_owned());
    loader = loader.region(Region::new(region));
    if let Some(url) = &settings.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    // A response that never comes must not hang an apply: the attempt times out and the
    // error policy decides (creates without idempotency tokens are looked up by tag first).
    loader = loader.timeout_config(
        aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(10))
            .operation_attempt_timeout(Duration::from_secs(60))
            .build(),
    );
    // The one retry layer for throttling and transient failures: the SDK's, for every call.
    // Throttling is normal under load (and in CI accounts shared by many runs): more attempts
    // than the SDK's default of 3. Creates without idempotency tokens add
    // `LookupBeforeResend`: after a failure that may have landed, the executor decides. The
    // executor's own policy retries only what the SDK does not: resources still in use, and
    // those creates.
    loader = loader.retry_config(
        aws_config::retry::RetryConfig::standard()
            .with_max_attempts(8)
            .with_initial_backoff(Duration::from_millis(200))
            .with_max_backoff(Duration::from_secs(20)),
    );
    loader.load().await
}

/// Retry classifier for a create without an idempotency token (CreateVpc, CreateSubnet,
/// AllocateAddress, ...): the SDK still retries throttling (the request was refused, nothing
/// happened), but not a timeout, reset or 5xx, after which the resource may exist — sending it
/// again blindly makes a second one. Such a failure comes back as
/// [`AwsError::Ambiguous`] (`classify_unretried`) and the executor looks the resource up by its
/// ownership tags before sending it again. Added per call: `.customize().config_override(
/// Builder::default().retry_classifier(LookupBeforeResend))`.
#[derive(Debug, Clone, Copy)]
pub struct LookupBeforeResend;

impl aws_smithy_runtime_api::client::retries::classifiers::ClassifyRetry for LookupBeforeResend {
    fn classify_retry(
        &self,
        _ctx: &aws_smithy_runtime_api::client::interceptors::context::InterceptorContext,
    ) -> aws_smithy_runtime_api::client::retries::classifiers::RetryAction {
        aws_smithy_runtime_api::client::retries::classifiers::RetryAction::NoActionIndicated
    }

    fn classify_retry_v2(
        &self,
        _ctx: &aws_smithy_runtime_api::client::interceptors::context::InterceptorContext,
        previous: &aws_smithy_runtime_api::client::retries::classifiers::RetryAction,
    ) -> aws_smithy_runtime_api::client::retries::classifiers::RetryAction {
        use aws_smithy_runtime_api::client::retries::classifiers::{RetryAction, RetryReason};
        use aws_smithy_types::retry::ErrorKind;
        match previous {
            RetryAction::RetryIndicated(RetryReason::RetryableError { kind: ErrorKind::ThrottlingError, .. }) => {
                RetryAction::NoActionIndicated
            }
            RetryAction::RetryIndicated(_) => RetryAction::RetryForbidden,
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "rprov: look up before resending a token-less create"
    }

    /// After the SDK's own classifiers (the last of which is the transient-error one), so it
    /// sees their verdict.
    fn priority(&self) -> aws_smithy_runtime_api::client::retries::classifiers::RetryClassifierPriority {
        use aws_smithy_runtime_api::client::retries::classifiers::RetryClassifierPriority as P;
        P::run_after(P::run_after(P::transient_error_classifier()))
    }
}

/// Where progress of long waits goes: (logical id, message).
pub type StatusSink = Arc<dyn Fn(&str, &str) + Send + Sync>;
type ClientCache = Arc<Mutex<HashMap<TypeId, Box<dyn Any + Send + Sync>>>>;

/// What a kind needs to do its work: the SDK configuration, the stack it acts for, and waiter
/// budgets. Clients are built lazily, once per service, from the one `SdkConfig`.
#[derive(Clone)]
pub struct Cx {
    pub stack: String,
    pub region: String,
    /// The account the credentials act for, once checked (for messages that name it).
    pub account: Option<String>,
    pub sdk: SdkConfig,
    pub wait: WaitConfig,
    clients: ClientCache,
    status: StatusSink,
    /// Set within one refresh: reads shared by several kinds are made once (see [`Cx::once`]).
    scope: Option<Arc<RefreshScope>>,
    /// A teardown: deletes take what a resource still holds with it (a repository's images),
    /// where a destroy honours the stack's `force_delete` and lets AWS refuse.
    pub purge: bool,
    /// The directory local files named in the stack (an image archive, a build context) are
    /// relative to: the stack file's.
    pub base: std::path::PathBuf,
}

impl Cx {
    pub fn new(stack: &str, sdk: SdkConfig, wait: WaitConfig) -> Cx {
        let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
        Cx {
            stack: stack.to_owned(),
            region,
            account: None,
            sdk,
            wait,
            clients: Arc::new(Mutex::new(HashMap::new())),
            status: Arc::new(|_, _| {}),
            scope: None,
            purge: false,
            base: std::path::PathBuf::from("."),
        }
    }

    /// A teardown's context (see [`Cx::purge`]).
    pub fn purging(mut self) -> Cx {
        self.purge = true;
        self
    }

    /// Local files of the stack are relative to `dir` (see [`Cx::base`]).
    pub fn with_base(mut self, dir: &std::path::Path) -> Cx {
        self.base = dir.to_owned();
        self
    }

    /// The same context for one refresh: reads that several kinds need (the ECS cluster list,
    /// the Tagging API's index of the stack's resources) are made once and shared. Creates,
    /// updates and lookups after a lost response never see these memoised answers.
    pub fn for_refresh(&self, scope: RefreshScope) -> Cx {
        Cx { scope: Some(Arc::new(scope)), ..self.clone() }
    }

    pub fn scope(&self) -> Option<&RefreshScope> {
        self.scope.as_deref()
    }

    /// `read` made once per refresh for everyone asking with the same `key`; outside a refresh
    /// (creates, lookups after a lost response) it runs every time, so nothing stale is seen.
    pub async fn once<T, F, Fut>(&self, key: &'static str, read: F) -> Result<Arc<T>, AwsError>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, AwsError>>,
    {
        match &self.scope {
            Some(scope) => scope.once(key, read).await,
            None => read().await.map(Arc::new),
        }
    }

    pub fn with_account(mut self, account: &str) -> Cx {
        self.account = Some(account.to_owned());
        self
    }

    /// Where progress of long waits goes (logical id, message).
    pub fn with_status(mut self, f: StatusSink) -> Cx {
        self.status = f;
        self
    }

    /// The same context (stack, account, directory, purge, clients) reporting progress to `f`,
    /// for the operations of an apply or destroy: outside any refresh's memoised reads.
    pub fn for_operations(&self, f: StatusSink) -> Cx {
        Cx { scope: None, status: f, ..self.clone() }
    }

    /// Uses `client` for its service instead of one built from the `SdkConfig`: unit tests hand in
    /// a client whose responses are mocked (aws-smithy-mocks works per client, not per config).
    pub fn with_client<C: Clone + Send + Sync + 'static>(self, client: C) -> Cx {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        clients.insert(TypeId::of::<C>(), Box::new(client));
        drop(clients);
        self
    }

    pub fn status(&self, id: &str, msg: &str) {
        (self.status)(id, msg)
    }

    /// The client of one service, e.g. `cx.client(aws_sdk_ec2::Client::new)`; built once.
    pub fn client<C: Clone + Send + Sync + 'static>(&self, make: fn(&SdkConfig) -> C) -> C {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        clients
            .entry(TypeId::of::<C>())
            .or_insert_with(|| Box::new(make(&self.sdk)))
            .downcast_ref::<C>()
            .cloned()
            .expect("client cache keyed by type")
    }
}
