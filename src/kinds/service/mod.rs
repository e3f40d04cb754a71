//! What the kinds of one AWS service share: its client, tag conversion and retagging, and the
//! reads and waits several of its kinds make. The kinds reach them as `super::ec2` and so on.

pub mod apigw;
pub mod ec2;
pub mod ecs;
pub mod efs;
pub mod elasticache;
pub mod elbv2;
pub mod iam;
pub mod lambda;
pub mod rds;
pub mod route53;
pub mod s3;
