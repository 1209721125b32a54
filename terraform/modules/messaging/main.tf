# S3 "Object Created" under inbox/ → EventBridge rule → SQS work queue (→ DLQ after
# max_receive_count receives). Events the rule cannot deliver go to the rule's own DLQ. The same
# names, pattern, retry policy and queue policies as bb-provision (shared/provision).

locals {
  queues = {
    work     = "${var.name}-work"
    work_dlq = "${var.name}-work-dlq"
    rule_dlq = "${var.name}-rule-dlq"
  }
}

resource "aws_sqs_queue" "work_dlq" {
  name                      = local.queues.work_dlq
  sqs_managed_sse_enabled   = true
  message_retention_seconds = 1209600
}

resource "aws_sqs_queue" "rule_dlq" {
  name                      = local.queues.rule_dlq
  sqs_managed_sse_enabled   = true
  message_retention_seconds = 1209600
}

resource "aws_sqs_queue" "work" {
  name                       = local.queues.work
  sqs_managed_sse_enabled    = true
  visibility_timeout_seconds = var.visibility_timeout_seconds
  message_retention_seconds  = 345600
  # Bayko long-polls; this is the default for receives that name no wait.
  receive_wait_time_seconds = 20
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.work_dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
}

resource "aws_cloudwatch_event_rule" "inbox" {
  name        = "${var.name}-inbox-object-created"
  description = "Task objects created in the inbox become work for Bayko"
  event_pattern = jsonencode({
    source      = ["aws.s3"]
    detail-type = ["Object Created"]
    detail = {
      bucket = { name = [var.tasks_bucket] }
      object = { key = [{ prefix = "inbox/" }] }
    }
  })
}

resource "aws_cloudwatch_event_target" "work" {
  rule      = aws_cloudwatch_event_rule.inbox.name
  target_id = "bayko-work-queue"
  arn       = aws_sqs_queue.work.arn

  dead_letter_config {
    arn = aws_sqs_queue.rule_dlq.arn
  }

  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }
}

# The same statements as bb_provision::policy::queue_policy: the rule, and only the rule,
# sends; plain HTTP is refused.
data "aws_iam_policy_document" "rule_sends" {
  for_each = {
    work     = aws_sqs_queue.work.arn
    rule_dlq = aws_sqs_queue.rule_dlq.arn
  }

  statement {
    sid       = "EventBridgeRuleSends"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [each.value]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.inbox.arn]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [each.value]
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

resource "aws_sqs_queue_policy" "work" {
  queue_url = aws_sqs_queue.work.id
  policy    = data.aws_iam_policy_document.rule_sends["work"].json
}

resource "aws_sqs_queue_policy" "rule_dlq" {
  queue_url = aws_sqs_queue.rule_dlq.id
  policy    = data.aws_iam_policy_document.rule_sends["rule_dlq"].json
}
