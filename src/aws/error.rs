use std::fmt::Debug;
use std::time::Duration;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// AWS failures sorted by what rprov does about them (see `apply::error_policy`).
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum AwsError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("throttled: {0}")]
    Throttled(String),
    /// Something still uses the resource (ENIs, rules, attachments); usually clears with time.
    #[error("in use: {0}")]
    InUse(String),
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// The request may or may not have reached AWS (timeout, reset, 5xx), and the SDK's own
    /// retries (which every call but a token-less create gets) did not get an answer either.
    #[error("transient failure: {0}")]
    Transient(String),
    /// A create without an idempotency token, which the SDK does not send twice, got no answer
    /// (timeout, reset, 5xx): it may have made the resource. The executor looks it up by its
    /// ownership tags, for as long as AWS may take to show it, before sending it again.
    #[error("no answer ({0}); the request may have taken effect")]
    Ambiguous(String),
    /// Something rprov does not own keeps the resource from being deleted; waiting will not help.
    #[error("{0}")]
    Blocked(String),
    /// AWS refused the request as invalid; retrying will not help.
    #[error("{0}")]
    Invalid(String),
    #[error("timed out after {}s waiting for {what}", waited.as_secs())]
    WaitTimeout { what: String, waited: Duration },
    #[error("{0}")]
    Failed(String),
}

impl AwsError {
    /// Whether the request might have taken effect although no answer says so.
    pub fn is_ambiguous(&self) -> bool {
        matches!(self, AwsError::Ambiguous(_))
    }
}

/// Sorts an AWS error code (and HTTP status) into an [`AwsError`].
pub fn classify_code(code: &str, message: &str, status: Option<u16>) -> AwsError {
    let text = if message.is_empty() { code.to_owned() } else { format!("{code}: {message}") };
    const THROTTLED: &[&str] = &[
        "RequestLimitExceeded",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "PriorRequestNotComplete",
        "ProvisionedThroughputExceededException",
        "EC2ThrottledException",
    ];
    const IN_USE: &[&str] = &[
        "DependencyViolation",
        "ResourceInUse",
        "ResourceInUseException",
        "InvalidIPAddress.InUse",
        "InvalidGroup.InUse",
        "ClusterContainsServicesException",
        "ClusterContainsTasksException",
        "FileSystemInUse",
        "HostedZoneNotEmpty",
        "DeleteConflict",
        // RDS: a subnet group used by a cluster, a cluster with members or not `available`, an
        // instance busy modifying or backing up.
        "InvalidDBSubnetGroupStateFault",
        "InvalidDBClusterStateFault",
        "InvalidDBInstanceState",
    ];
    // API Gateway answers DeleteApi of an API a custom domain still maps with a plain
    // BadRequestException ("Please remove all API mappings for the API from your custom domain
    // names"): in use until the mapping is deleted.
    let mapped = code == "BadRequestException" && message.contains("remove all API mappings");
    if THROTTLED.contains(&code) {
        AwsError::Throttled(text)
    } else if IN_USE.contains(&code) || mapped {
        AwsError::InUse(text)
    } else if code.contains("NotFound")
        || code.starts_with("NoSuch")
        || code.ends_with(".Malformed") && message.contains("does not exist")
    {
        AwsError::NotFound(text)
    } else if code.contains("Duplicate") || code.contains("AlreadyExists") {
        AwsError::AlreadyExists(text)
    } else if matches!(status, Some(500..=599))
        || matches!(
            code,
            "InternalError" | "InternalFailure" | "ServiceUnavailable" | "Unavailable" | "InternalServerError"
        )
    {
        AwsError::Transient(text)
    } else {
        AwsError::Invalid(text)
    }
}

/// [`classify`] for a create the SDK does not resend after a failure that leaves its outcome
/// open (see [`super::LookupBeforeResend`]): such a failure is [`AwsError::Ambiguous`].
pub fn classify_unretried<E, R>(err: SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug + HttpStatus,
{
    match classify(err) {
        AwsError::Transient(m) => AwsError::Ambiguous(m),
        other => other,
    }
}

/// Every item of a paginated listing (`op.into_paginator().items().send()`), errors classified.
pub async fn all_items<T, E, R>(
    items: aws_smithy_async::future::pagination_stream::PaginationStream<Result<T, SdkError<E, R>>>,
) -> Result<Vec<T>, AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug + HttpStatus,
{
    items.try_collect().await.map_err(classify)
}

/// Classifies any SDK error: service errors by their code, transport failures as transient.
pub fn classify<E, R>(err: SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug + HttpStatus,
{
    match err {
        SdkError::ServiceError(se) => {
            let status = se.raw().status();
            let e = se.into_err();
            classify_code(e.code().unwrap_or("Unknown"), e.message().unwrap_or_default(), Some(status))
        }
        SdkError::TimeoutError(_) => AwsError::Transient("request timed out".into()),
        SdkError::DispatchFailure(d) => {
            AwsError::Transient(format!("request failed: {:?}", d.as_connector_error().map(|c| c.to_string())))
        }
        SdkError::ResponseError(r) => AwsError::Transient(format!("unreadable response (status {})", r.raw().status())),
        SdkError::ConstructionFailure(_) => AwsError::Failed("could not build the request".into()),
        other => AwsError::Failed(format!("{other:?}")),
    }
}

/// The HTTP status of a raw response, whatever the SDK's response type.
pub trait HttpStatus {
    fn status(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status(&self) -> u16 {
        aws_smithy_runtime_api::http::Response::status(self).as_u16()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_sort_into_policies() {
        let check = |code: &str, status: Option<u16>, want: fn(&AwsError) -> bool| {
            let got = classify_code(code, "m", status);
            assert!(want(&got), "{code} -> {got:?}");
        };
        check("RequestLimitExceeded", Some(503), |e| matches!(e, AwsError::Throttled(_)));
        check("ThrottlingException", Some(400), |e| matches!(e, AwsError::Throttled(_)));
        check("DependencyViolation", Some(400), |e| matches!(e, AwsError::InUse(_)));
        check("InvalidVpcID.NotFound", Some(400), |e| matches!(e, AwsError::NotFound(_)));
        check("InvalidSubnetID.NotFound", Some(400), |e| matches!(e, AwsError::NotFound(_)));
        check("NatGatewayNotFound", Some(400), |e| matches!(e, AwsError::NotFound(_)));
        check("NoSuchEntity", Some(404), |e| matches!(e, AwsError::NotFound(_)));
        check("InvalidGroup.Duplicate", Some(400), |e| matches!(e, AwsError::AlreadyExists(_)));
        check("InvalidPermission.Duplicate", Some(400), |e| matches!(e, AwsError::AlreadyExists(_)));
        check("InternalError", Some(500), |e| matches!(e, AwsError::Transient(_)));
        check("Whatever", Some(503), |e| matches!(e, AwsError::Transient(_)));
        check("InvalidParameterValue", Some(400), |e| matches!(e, AwsError::Invalid(_)));
        // Deletion protection (ELBv2), a state that will not change by itself: permanent.
        check("OperationNotPermitted", Some(400), |e| matches!(e, AwsError::Invalid(_)));
        check("IncorrectState", Some(400), |e| matches!(e, AwsError::Invalid(_)));
        check("DBClusterNotFoundFault", Some(404), |e| matches!(e, AwsError::NotFound(_)));
        check("DBSubnetGroupNotFoundFault", Some(404), |e| matches!(e, AwsError::NotFound(_)));
        check("DBInstanceNotFound", Some(404), |e| matches!(e, AwsError::NotFound(_)));
        check("DBClusterAlreadyExistsFault", Some(400), |e| matches!(e, AwsError::AlreadyExists(_)));
        check("DBSubnetGroupAlreadyExists", Some(400), |e| matches!(e, AwsError::AlreadyExists(_)));
        check("InvalidDBSubnetGroupStateFault", Some(400), |e| matches!(e, AwsError::InUse(_)));
        check("InvalidDBClusterStateFault", Some(400), |e| matches!(e, AwsError::InUse(_)));
    }
}
