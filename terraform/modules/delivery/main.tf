# Artifact downloads through CloudFront: the bucket stays private (origin access control, the
# bucket policy names this distribution), and only URLs signed with the trusted key group's
# private key are served.

variable "name" {
  description = "Name prefix."
  type        = string
}

variable "artifacts_bucket_regional_domain_name" {
  description = "The artifacts bucket's regional domain."
  type        = string
}

variable "public_key_pem" {
  description = "PEM public key whose private half signs artifact URLs."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate (us-east-1) for an alias; null uses the CloudFront domain and certificate."
  type        = string
  default     = null
}

variable "aliases" {
  description = "Alternate domain names (need certificate_arn)."
  type        = list(string)
  default     = []
}

resource "aws_cloudfront_origin_access_control" "artifacts" {
  name                              = "${var.name}-artifacts"
  description                       = "CloudFront reads the artifacts bucket, signed with SigV4"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_public_key" "signer" {
  name        = "${var.name}-artifact-links"
  comment     = "Verifies signed artifact URLs"
  encoded_key = var.public_key_pem
}

resource "aws_cloudfront_key_group" "signers" {
  name  = "${var.name}-artifact-links"
  items = [aws_cloudfront_public_key.signer.id]
}

resource "aws_cloudfront_response_headers_policy" "artifacts" {
  name = "${var.name}-artifacts"
  security_headers_config {
    content_type_options {
      override = true
    }
    frame_options {
      frame_option = "DENY"
      override     = true
    }
    strict_transport_security {
      access_control_max_age_sec = 31536000
      include_subdomains         = true
      preload                    = true
      override                   = true
    }
    referrer_policy {
      referrer_policy = "no-referrer"
      override        = true
    }
  }
}

data "aws_cloudfront_cache_policy" "caching_optimized" {
  name = "Managed-CachingOptimized"
}

resource "aws_cloudfront_distribution" "artifacts" {
  # checkov:skip=CKV_AWS_68: every request must carry a valid signature (trusted key group); a WAF adds nothing for signed, read-only downloads
  # checkov:skip=CKV_AWS_86: standard logging needs ACLs on the log bucket (disabled there); S3 server access logs on the artifacts bucket record every origin read
  # checkov:skip=CKV_AWS_310: one origin: artifacts live in one bucket, and a failover origin would need replication (one region by design)
  # checkov:skip=CKV_AWS_374: tenants are not bound to countries; signed URLs already limit who downloads
  # checkov:skip=CKV_AWS_174: with the default certificate (no alias) CloudFront fixes the protocol floor; with certificate_arn set, TLSv1.2_2021 is used
  # checkov:skip=CKV2_AWS_47: no WAF (see CKV_AWS_68), so no Log4j rule set either
  # checkov:skip=CKV_AWS_305: serves signed object keys only; there is no site root to default to
  # checkov:skip=CKV2_AWS_42: a custom certificate is optional (certificate_arn); without one the CloudFront domain's certificate serves
  enabled         = true
  is_ipv6_enabled = true
  comment         = "Bayko & Brown artifacts (${var.name})"
  aliases         = var.aliases
  price_class     = "PriceClass_100"

  origin {
    origin_id                = "artifacts"
    domain_name              = var.artifacts_bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.artifacts.id
  }

  default_cache_behavior {
    target_origin_id           = "artifacts"
    viewer_protocol_policy     = "https-only"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = data.aws_cloudfront_cache_policy.caching_optimized.id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.artifacts.id
    trusted_key_groups         = [aws_cloudfront_key_group.signers.id]
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = var.certificate_arn == null
    acm_certificate_arn            = var.certificate_arn
    ssl_support_method             = var.certificate_arn == null ? null : "sni-only"
    minimum_protocol_version       = var.certificate_arn == null ? "TLSv1" : "TLSv1.2_2021"
  }
}

output "distribution_arn" {
  description = "The distribution (named in the artifacts bucket policy)."
  value       = aws_cloudfront_distribution.artifacts.arn
}

output "domain_name" {
  description = "Where signed artifact URLs point."
  value       = aws_cloudfront_distribution.artifacts.domain_name
}

output "key_group_id" {
  description = "The trusted key group."
  value       = aws_cloudfront_key_group.signers.id
}

output "public_key_id" {
  description = "The signing key's id (the Key-Pair-Id of signed URLs)."
  value       = aws_cloudfront_public_key.signer.id
}
