//! The registry is complete, and what completeness asks of a new kind, shown with one.

use super::*;
use crate::spec::gaps;

const RULES: &str = include_str!("../../localaws/README.md");

#[test]
fn every_registered_kind_is_complete() {
    let found = gaps(&KINDS, RULES);
    assert!(found.is_empty(), "incomplete kinds:\n  {}", found.join("\n  "));
    assert_eq!(KINDS.all().len(), KINDS.names().len());
}

#[test]
fn arns_name_their_kinds() {
    for (arn, kind) in [
        ("arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-1", "vpc"),
        ("arn:aws:elasticloadbalancing:r:1:loadbalancer/app/x/1", "load_balancer"),
        ("arn:aws:elasticloadbalancing:r:1:listener/app/x/1/2", "listener"),
        ("arn:aws:ecs:r:1:service/cluster/web", "ecs_service"),
        ("arn:aws:logs:r:1:log-group:/rprov/app/logs", "log_group"),
        ("arn:aws:ssm:r:1:parameter/app/key", "ssm_parameter"),
        ("arn:aws:route53:::hostedzone/Z1", "hosted_zone"),
        // API Gateway's resource part is a path.
        ("arn:aws:apigateway:r::/apis/a1b2c3", "http_api"),
        ("arn:aws:apigateway:r::/domainnames/api.example.com", "api_domain"),
    ] {
        assert_eq!(KINDS.kind_of_arn(arn), Some(kind), "{arn}");
    }
    // A bucket's ARN is its name alone; an object's names the bucket as its type.
    assert_eq!(KINDS.kind_of_arn("arn:aws:s3:::bucket"), Some("bucket"));
    assert_eq!(KINDS.kind_of_arn("arn:aws:s3:::bucket/key"), None);
    assert_eq!(KINDS.kind_of_arn("arn:aws:sns:r:1:topic"), None);
    assert_eq!(KINDS.kind_of_arn("not an arn"), None);
}

/// A kind as a new one is written: its file (here, this module) and one registry line. It is
/// taggable but says nothing of its ARN, so its leftovers would be foreign to teardown.
mod demo {
    use super::*;
    use crate::schema::{Attr, KindSchema, Prop, Ty};

    pub struct Demo;
    pub struct DemoWithArn;

    static SCHEMA: KindSchema = KindSchema {
        name: "demo",
        doc: "A demonstration kind.",
        props: &[Prop::new("name", Ty::Str, "Its name.").required()],
        attrs: &[Attr::new("id", "Its id.")],
        taggable: true,
    };

    impl KindSpec for Demo {
        fn schema(&self) -> &'static KindSchema {
            &SCHEMA
        }
        fn holds(&self) -> &'static [&'static str] {
            &["vpc"]
        }
        fn refusals(&self) -> Refusals {
            Refusals::None("a demonstration: nothing is sent")
        }
    }

    impl KindSpec for DemoWithArn {
        fn schema(&self) -> &'static KindSchema {
            &SCHEMA
        }
        fn arn(&self) -> Option<(&'static str, &'static str)> {
            Some(("demo", "thing"))
        }
        fn refusals(&self) -> Refusals {
            Refusals::Modelled(&[("route53", "DeleteHostedZone")])
        }
    }

    /// What a kind does against AWS: this one never gets there.
    #[async_trait]
    impl Kind for Demo {
        async fn read_many(&self, _: &Cx, _: &[String]) -> Result<Vec<Live>, AwsError> {
            Ok(Vec::new())
        }
        async fn create(&self, _: &Cx, _: &CreateReq<'_>) -> Result<Live, AwsError> {
            Err(AwsError::Invalid("demo resources are not made".into()))
        }
        async fn update(&self, _: &Cx, _: &UpdateReq<'_>) -> Result<Live, AwsError> {
            Err(AwsError::Invalid("demo resources are not made".into()))
        }
        async fn delete(&self, _: &Cx, _: &DeleteReq<'_>) -> Result<(), AwsError> {
            Ok(())
        }
    }
}

#[test]
fn a_new_kind_is_its_file_and_one_line_and_completeness_catches_a_missing_arn() {
    // The one line.
    static WITH_DEMO: Kinds = Kinds::new(&[&demo::Demo]);
    let found = gaps(&WITH_DEMO, RULES);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("demo: taggable but no ARN rule"), "{found:?}");
    // It holds a kind that this registry lacks.
    assert_eq!(found[1], "demo: holds `vpc`, which is no kind");

    // With its ARN rule (and a relation to a registered kind), nothing is missing.
    struct Both;
    impl Catalog for Both {
        fn spec(&self, name: &str) -> Option<&'static dyn KindSpec> {
            self.specs().into_iter().find(|k| k.schema().name == name)
        }
        fn specs(&self) -> Vec<&'static dyn KindSpec> {
            vec![&demo::DemoWithArn]
        }
    }
    assert_eq!(gaps(&Both, RULES), Vec::<String>::new());
    assert_eq!(Both.kind_of_arn("arn:aws:demo:r:1:thing/x"), Some("demo"));
    // A refusal rule the local AWS does not list is caught too.
    assert_eq!(
        gaps(&Both, "| ec2 DeleteVpc | ... |"),
        ["demo: refusal rule route53 DeleteHostedZone is not in the strict local AWS's rules"]
    );

    // The rest of rprov takes it from the registry: the loader, the docs.
    let text = "stack: s\nregion: eu-west-1\nresources:\n  d: { type: demo, name: x }\n";
    let stack = crate::stack::load_str(&WITH_DEMO, crate::stack::Source::new("s.yaml", text), &Default::default())
        .unwrap_or_else(|(_, d)| panic!("{d:?}"));
    assert_eq!(stack.resources["d"].kind_name(), "demo");
    assert!(crate::docs::explain(&demo::Demo).contains("A demonstration kind."));
    assert!(crate::docs::kinds_index(&WITH_DEMO).contains("demo"));
}

/// The one ownership filter: what was asked for, or tagged with the stack; all of it where the
/// kind selects the stack's resources itself.
#[test]
fn the_stack_owns_what_is_asked_for_or_tagged_with_it_unless_the_kind_selects() {
    let cx = Cx::new("s", aws_config::SdkConfig::builder().build(), crate::aws::WaitConfig::default());
    let live = |pid: &str, stack: Option<&str>| Live {
        physical_id: pid.into(),
        props: Props::new(),
        attrs: Props::new(),
        tags: stack.map(|s| Tags::from([(TAG_STACK.to_string(), s.to_string())])).unwrap_or_default(),
    };
    let all = vec![live("mine", Some("s")), live("recorded", None), live("other", Some("t")), live("hand", None)];
    let ids = ["recorded".to_string()];
    let pids = |v: Vec<Live>| v.into_iter().map(|l| l.physical_id).collect::<Vec<_>>();
    assert_eq!(pids(owned(&demo::Demo, &cx, &ids, all.clone())), ["mine", "recorded"]);
    let mount_target = kind("mount_target").unwrap();
    assert_eq!(pids(owned(mount_target, &cx, &ids, all)), ["mine", "recorded", "other", "hand"]);
    let own: Vec<&str> =
        KINDS.all().iter().filter(|k| k.selection() == Selection::Own).map(|k| k.schema().name).collect();
    assert_eq!(
        own,
        [
            "autoscaling",
            "mount_target",
            "iam_role",
            "iam_policy",
            "iam_user",
            "log_group",
            "alarm",
            "dns_record",
            "container_image",
            "bucket_notification",
            "lambda_permission"
        ]
    );
}
