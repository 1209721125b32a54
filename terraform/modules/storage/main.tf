# The two buckets of the flow and the access-log bucket, each hardened by ./bucket. The tasks
# bucket notifies EventBridge; the artifacts bucket is readable by the CloudFront distribution.

module "access_logs" {
  source                  = "./bucket"
  name                    = "${var.name}-access-logs"
  expire_days             = 365
  noncurrent_version_days = var.noncurrent_version_days
  policy_statements_json  = data.aws_iam_policy_document.access_log_delivery.json
}

module "tasks" {
  source                  = "./bucket"
  name                    = "${var.name}-tasks"
  expire_days             = var.task_retention_days
  noncurrent_version_days = var.noncurrent_version_days
  access_log_bucket       = module.access_logs.id
  # Uploads (large task data) are read once, by the task that names them: a day is plenty.
  prefix_expire_days = { "uploads/" = 1 }
}

module "artifacts" {
  source                  = "./bucket"
  name                    = "${var.name}-artifacts"
  expire_days             = var.artifact_retention_days
  noncurrent_version_days = var.noncurrent_version_days
  access_log_bucket       = module.access_logs.id
  policy_statements_json  = data.aws_iam_policy_document.cloudfront_reads.json
}

# Every object created under inbox/ becomes an EventBridge event (the rule is in messaging).
resource "aws_s3_bucket_notification" "tasks" {
  bucket      = module.tasks.id
  eventbridge = true
}

data "aws_caller_identity" "current" {}

# Artifacts: readable by this distribution only.
data "aws_iam_policy_document" "cloudfront_reads" {
  statement {
    sid       = "CloudFrontReadsArtifacts"
    actions   = ["s3:GetObject"]
    resources = ["arn:aws:s3:::${var.name}-artifacts/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [var.artifacts_distribution_arn]
    }
  }
}

# Access logs: written by S3's logging service, for this account's buckets only.
data "aws_iam_policy_document" "access_log_delivery" {
  statement {
    sid       = "S3ServerAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["arn:aws:s3:::${var.name}-access-logs/*"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}
