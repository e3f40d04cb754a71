//! S3's client, for the bucket kinds.

use aws_config::SdkConfig;
use aws_sdk_s3::Client;

use crate::aws::Cx;

fn make_client(sdk: &SdkConfig) -> Client {
    // A local emulator answers on one host name: path-style addressing (as the S3 state
    // backend does). Real S3 keeps virtual-hosted style.
    Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(sdk.endpoint_url().is_some()).build())
}

pub fn client(cx: &Cx) -> Client {
    cx.client(make_client)
}
