//! Integration tests: the real rprov binary and the real AWS SDK against the strict local AWS
//! (moto behind AWS's rules, with call counting and fault injection).

mod api_platform;
mod blockers;
mod drift;
mod images;
mod import;
mod imports;
mod lost;
mod network;
mod portal;
mod reference;
mod s3state;
mod safety;
mod support;
mod teardown;
