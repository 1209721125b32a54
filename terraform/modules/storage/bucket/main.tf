# One bucket, hardened as bb-provision hardens it locally (shared/provision/src/bucket.rs):
# public access blocked, owner-enforced objects, default encryption, versioning, lifecycle
# expiry, server access logs, and a policy that refuses plain HTTP (policy.rs).

variable "name" {
  description = "The bucket's name."
  type        = string
}

variable "expire_days" {
  description = "Days current objects live."
  type        = number
}

variable "noncurrent_version_days" {
  description = "Days an overwritten version is kept."
  type        = number
}

variable "prefix_expire_days" {
  description = "Shorter lives for objects under some prefixes (prefix => days), current and overwritten versions alike; the shorter of two overlapping expirations wins."
  type        = map(number)
  default     = {}
}

variable "access_log_bucket" {
  description = "Bucket receiving this bucket's server access logs; null for the log bucket itself."
  type        = string
  default     = null
}

variable "policy_statements_json" {
  description = "Further policy statements (an IAM policy document's JSON) merged into the TLS-only policy."
  type        = string
  default     = null
}

resource "aws_s3_bucket" "this" {
  # checkov:skip=CKV_AWS_144: one region by design; versioning and the queues' DLQs cover recovery
  # checkov:skip=CKV_AWS_145: SSE-S3, not KMS: the task roles then need no kms:* beyond docs/design.md's matrix, CloudFront's OAC reads without a key grant, and S3 log delivery requires SSE-S3
  # checkov:skip=CKV2_AWS_62: only the tasks bucket's inbox/ matters, and it notifies EventBridge (aws_s3_bucket_notification in ../main.tf)
  # checkov:skip=CKV_AWS_18: logging is configured below when access_log_bucket is set; the access-log bucket itself is not logged into itself
  bucket = var.name
}

resource "aws_s3_bucket_logging" "this" {
  count         = var.access_log_bucket == null ? 0 : 1
  bucket        = aws_s3_bucket.this.id
  target_bucket = var.access_log_bucket
  target_prefix = "${var.name}/"
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "expire"
    status = "Enabled"
    filter {}
    expiration {
      days = var.expire_days
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  dynamic "rule" {
    for_each = var.prefix_expire_days
    content {
      id     = "expire-${trimsuffix(rule.key, "/")}"
      status = "Enabled"
      filter {
        prefix = rule.key
      }
      expiration {
        days = rule.value
      }
      noncurrent_version_expiration {
        noncurrent_days = rule.value
      }
    }
  }
}

# The same statement as bb_provision::policy::bucket_policy.
data "aws_iam_policy_document" "this" {
  source_policy_documents = var.policy_statements_json == null ? [] : [var.policy_statements_json]

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.this.json
  # A policy that grants a service principal is refused while the public access block is
  # still being applied.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

output "id" {
  description = "The bucket's name."
  value       = aws_s3_bucket.this.id
}

output "arn" {
  description = "The bucket's ARN."
  value       = aws_s3_bucket.this.arn
}

output "regional_domain_name" {
  description = "The bucket's regional domain."
  value       = aws_s3_bucket.this.bucket_regional_domain_name
}
