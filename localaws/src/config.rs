//! What a test can change on a running local AWS: strictness, latency, eventual states,
//! faults. Serialised to the launcher's `POST /_localaws/config` body.

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// A partial configuration: only the fields that were set are sent, the rest stay as they are.
/// `op_latency_ms`, `faults` replace the whole previous value; `eventual` merges per kind.
#[derive(Clone, Debug, Default)]
pub struct Config {
    strict: Option<bool>,
    latency_ms: Option<u64>,
    op_latency_ms: Option<BTreeMap<String, u64>>,
    eventual: BTreeMap<String, u32>,
    faults: Option<Faults>,
    lambda_eni_hold: Option<Duration>,
}

impl Config {
    pub fn new() -> Config {
        Config::default()
    }

    /// AWS's rules enforced (the default) or moto as it is.
    pub fn strict(mut self, strict: bool) -> Config {
        self.strict = Some(strict);
        self
    }

    /// Delay before every answer, in milliseconds.
    pub fn latency_ms(mut self, ms: u64) -> Config {
        self.latency_ms = Some(ms);
        self
    }

    /// Delay for one operation (`operation` may be a glob such as `Describe*`), overriding
    /// [`Config::latency_ms`]. `service` is the SigV4 signing name (`ec2`, `elasticloadbalancing`).
    pub fn op_latency_ms(mut self, service: &str, operation: &str, ms: u64) -> Config {
        self.op_latency_ms.get_or_insert_with(BTreeMap::new).insert(format!("{service}:{operation}"), ms);
        self
    }

    /// The first `polls` describes of each resource of `kind` show its in-progress state
    /// (`nat_gateway`, `nat_gateway_deleting`, `load_balancer`, `certificate`, `mount_target`,
    /// `file_system`, `db_cluster`, `db_instance`, `db_proxy`, `replication_group`,
    /// `replication_group_deleting`; the launcher refuses an unknown name).
    pub fn eventual(mut self, kind: &str, polls: u32) -> Config {
        self.eventual.insert(kind.to_owned(), polls);
        self
    }

    /// How long the network interfaces of a Lambda function in a VPC stay after DeleteFunction
    /// (or an update that leaves a subnet), holding their subnets and security groups (AWS: up
    /// to tens of minutes). Default 3 s.
    pub fn lambda_eni_hold(mut self, hold: Duration) -> Config {
        self.lambda_eni_hold = Some(hold);
        self
    }

    pub fn faults(mut self, faults: Faults) -> Config {
        self.faults = Some(faults);
        self
    }

    pub(crate) fn strictness(&self) -> Option<bool> {
        self.strict
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.to_json() == json!({})
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut out = Map::new();
        if let Some(strict) = self.strict {
            out.insert("strict".into(), json!(strict));
        }
        if let Some(ms) = self.latency_ms {
            out.insert("latency_ms".into(), json!(ms));
        }
        if let Some(ops) = &self.op_latency_ms {
            out.insert("op_latency_ms".into(), json!(ops));
        }
        if !self.eventual.is_empty() {
            out.insert("eventual".into(), json!(self.eventual));
        }
        if let Some(faults) = &self.faults {
            out.insert("faults".into(), faults.to_json());
        }
        if let Some(hold) = self.lambda_eni_hold {
            out.insert("lambda_eni_hold_s".into(), json!(hold.as_secs_f64()));
        }
        Value::Object(out)
    }
}

/// Which calls fail, and how: a seeded random draw per call (reproducible for the same
/// sequence of calls), and scripted faults on the n-th call matching an operation.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    seed: Option<u64>,
    rates: BTreeMap<&'static str, f64>,
    slow: Option<Duration>,
    late: Option<Duration>,
    only: Vec<(String, String)>,
    script: Vec<Scripted>,
}

#[derive(Clone, Debug)]
struct Scripted {
    service: String,
    operation: String,
    calls: Vec<u32>,
    fault: Fault,
}

/// One injected fault, shaped as AWS sends it for the call's protocol.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// `RequestLimitExceeded` (EC2, 503), `ThrottlingException` (JSON, 400),
    /// `Throttling` (query and Route 53, 400), `SlowDown` (S3, 503).
    Throttle,
    /// 500 `InternalError` / `InternalFailure`.
    ServerError,
    /// 503 `Unavailable` / `ServiceUnavailable`.
    Unavailable,
    /// The connection is reset before the call reaches moto: nothing happened.
    ResetBefore,
    /// moto processes the call, then the connection is reset: it happened, the answer is lost.
    ResetAfter,
    /// moto processes the call; the answer comes after this long.
    Slow(Duration),
    /// The connection is reset at once (as [`Fault::ResetBefore`]), but the call reaches moto
    /// this long after: it was still in flight inside AWS when the client gave up. A lookup
    /// right after the error finds nothing; one a little later finds what the call made.
    Late(Duration),
    /// Any AWS error, e.g. `Fault::error(400, "DependencyViolation", "...")`.
    Error { status: u16, code: String, message: String },
}

impl Fault {
    pub fn error(status: u16, code: &str, message: &str) -> Fault {
        Fault::Error { status, code: code.to_owned(), message: message.to_owned() }
    }

    fn to_json(&self) -> Value {
        match self {
            Fault::Throttle => json!("throttle"),
            Fault::ServerError => json!("server_error"),
            Fault::Unavailable => json!("unavailable"),
            Fault::ResetBefore => json!("reset_before"),
            Fault::ResetAfter => json!("reset_after"),
            Fault::Slow(after) => json!({"kind": "slow", "seconds": after.as_secs_f64()}),
            Fault::Late(after) => json!({"kind": "late", "seconds": after.as_secs_f64()}),
            Fault::Error { status, code, message } => {
                json!({"kind": "error", "status": status, "code": code, "message": message})
            }
        }
    }
}

impl Faults {
    /// No faults at all (clears a previous plan when passed to `configure`).
    pub fn none() -> Faults {
        Faults::default()
    }

    /// Random faults drawn from this seed, one draw per call, in arrival order.
    pub fn seeded(seed: u64) -> Faults {
        Faults { seed: Some(seed), ..Faults::default() }
    }

    pub fn throttle(self, probability: f64) -> Faults {
        self.rate("throttle", probability)
    }

    pub fn server_error(self, probability: f64) -> Faults {
        self.rate("server_error", probability)
    }

    pub fn unavailable(self, probability: f64) -> Faults {
        self.rate("unavailable", probability)
    }

    pub fn reset_before(self, probability: f64) -> Faults {
        self.rate("reset_before", probability)
    }

    pub fn reset_after(self, probability: f64) -> Faults {
        self.rate("reset_after", probability)
    }

    pub fn slow(mut self, probability: f64, after: Duration) -> Faults {
        self.slow = Some(after);
        self.rate("slow", probability)
    }

    /// The client's connection is reset, and the call reaches moto `after` later
    /// ([`Fault::Late`]).
    pub fn late(mut self, probability: f64, after: Duration) -> Faults {
        self.late = Some(after);
        self.rate("late", probability)
    }

    /// Restricts the random faults to matching calls (may be repeated; `operation` may be a
    /// glob). Scripted faults are not affected.
    pub fn only(mut self, service: &str, operation: &str) -> Faults {
        self.only.push((service.to_owned(), operation.to_owned()));
        self
    }

    /// The given calls (1-based, counted among the calls matching `service`/`operation` since
    /// this plan was configured) fail with `fault`.
    pub fn on_calls(
        mut self,
        service: &str,
        operation: &str,
        calls: impl IntoIterator<Item = u32>,
        fault: Fault,
    ) -> Faults {
        self.script.push(Scripted {
            service: service.to_owned(),
            operation: operation.to_owned(),
            calls: calls.into_iter().collect(),
            fault,
        });
        self
    }

    /// The next call matching `service`/`operation` fails with `fault`.
    pub fn next(self, service: &str, operation: &str, fault: Fault) -> Faults {
        self.on_calls(service, operation, [1], fault)
    }

    /// The first `n` calls matching `service`/`operation` fail with `fault`.
    pub fn first(self, service: &str, operation: &str, n: u32, fault: Fault) -> Faults {
        self.on_calls(service, operation, 1..=n, fault)
    }

    fn rate(mut self, kind: &'static str, probability: f64) -> Faults {
        self.rates.insert(kind, probability);
        self
    }

    fn to_json(&self) -> Value {
        let mut out = Map::new();
        if let Some(seed) = self.seed {
            out.insert("seed".into(), json!(seed));
        }
        if !self.rates.is_empty() {
            out.insert("rates".into(), json!(self.rates));
        }
        if let Some(after) = self.slow {
            out.insert("slow_s".into(), json!(after.as_secs_f64()));
        }
        if let Some(after) = self.late {
            out.insert("late_s".into(), json!(after.as_secs_f64()));
        }
        if !self.only.is_empty() {
            let only: Vec<Value> = self.only.iter().map(|(s, o)| json!({"service": s, "operation": o})).collect();
            out.insert("only".into(), Value::Array(only));
        }
        if !self.script.is_empty() {
            let script: Vec<Value> = self
                .script
                .iter()
                .map(|s| {
                    json!({
                        "service": s.service,
                        "operation": s.operation,
                        "calls": s.calls,
                        "fault": s.fault.to_json(),
                    })
                })
                .collect();
            out.insert("script".into(), Value::Array(script));
        }
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(config: Config, expect: Value) {
        assert_eq!(config.to_json(), expect);
    }

    #[test]
    fn serialises_only_what_was_set() {
        check(Config::new(), json!({}));
        check(
            Config::new().strict(false).latency_ms(100).op_latency_ms("ec2", "CreateNatGateway", 150),
            json!({"strict": false, "latency_ms": 100, "op_latency_ms": {"ec2:CreateNatGateway": 150}}),
        );
        check(Config::new().eventual("nat_gateway", 3), json!({"eventual": {"nat_gateway": 3}}));
        check(Config::new().faults(Faults::none()), json!({"faults": {}}));
    }

    #[test]
    fn serialises_faults() {
        check(
            Config::new().faults(Faults::seeded(42).throttle(0.1).reset_after(0.05).only("ec2", "Describe*")),
            json!({"faults": {
                "seed": 42,
                "rates": {"reset_after": 0.05, "throttle": 0.1},
                "only": [{"service": "ec2", "operation": "Describe*"}],
            }}),
        );
        check(
            Config::new().faults(
                Faults::none().first("ec2", "DeleteSubnet", 2, Fault::error(400, "DependencyViolation", "busy")).next(
                    "ec2",
                    "CreateVpc",
                    Fault::Slow(Duration::from_millis(1500)),
                ),
            ),
            json!({"faults": {"script": [
                {"service": "ec2", "operation": "DeleteSubnet", "calls": [1, 2],
                 "fault": {"kind": "error", "status": 400, "code": "DependencyViolation", "message": "busy"}},
                {"service": "ec2", "operation": "CreateVpc", "calls": [1],
                 "fault": {"kind": "slow", "seconds": 1.5}},
            ]}}),
        );
    }

    #[test]
    fn serialises_late_faults() {
        check(
            Config::new()
                .faults(Faults::seeded(7).late(0.05, Duration::from_secs(2)).slow(0.01, Duration::from_secs(5))),
            json!({"faults": {
                "seed": 7,
                "rates": {"late": 0.05, "slow": 0.01},
                "slow_s": 5.0,
                "late_s": 2.0,
            }}),
        );
        check(
            Config::new().faults(Faults::none().next("ec2", "CreateVpc", Fault::Late(Duration::from_millis(1500)))),
            json!({"faults": {"script": [
                {"service": "ec2", "operation": "CreateVpc", "calls": [1],
                 "fault": {"kind": "late", "seconds": 1.5}},
            ]}}),
        );
    }
}
