//! The seams' contract on the real thing: the assertions the in-memory store and queue pass in
//! bb-aws's unit tests, run on S3 and SQS in the emulator, so those stand-ins are proven faithful.

use bb_aws::{S3Store, SqsQueue, contract};
use bb_tests::{aws, provision_isolated, test_queue_settings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_store_honours_the_object_contract() {
    let aws = aws().await;
    let provisioned = provision_isolated(&aws, test_queue_settings()).await;
    // The artifacts bucket: writes there raise no task events.
    let store = S3Store::new(bb_aws::s3(&aws), &provisioned.names.artifacts_bucket);
    contract::object_store(&store, "contract").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_queue_honours_the_queue_contract() {
    let aws = aws().await;
    let provisioned = provision_isolated(&aws, test_queue_settings()).await;
    let queue = SqsQueue::new(bb_aws::sqs(&aws), &provisioned.queue_url);
    contract::work_queue(&queue).await;
}
