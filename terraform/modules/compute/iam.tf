# Task roles: exactly docs/design.md's least-privilege list (checked by the infrastructure
# tests in xtask/tests/infra.rs, which parse this file). Execution roles, separate: pull the
# image, write the log stream, read the service's secrets.

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# ------------------------------------------------------------------ task roles

data "aws_iam_policy_document" "brown_task" {
  statement {
    sid       = "WriteTasksAndCancels"
    actions   = ["s3:PutObject"]
    resources = ["${var.tasks_bucket_arn}/inbox/*", "${var.tasks_bucket_arn}/cancel/*"]
  }
  statement {
    sid       = "ReadTasksAndStatuses"
    actions   = ["s3:GetObject"]
    resources = ["${var.tasks_bucket_arn}/inbox/*", "${var.tasks_bucket_arn}/status/*"]
  }
  statement {
    sid       = "SignArtifactLinks"
    actions   = ["s3:GetObject"]
    resources = ["${var.artifacts_bucket_arn}/*"]
  }
  statement {
    # HeadBucket for readiness; with it a missing status reads as 404, not 403.
    sid       = "ListTasksBucket"
    actions   = ["s3:ListBucket"]
    resources = [var.tasks_bucket_arn]
  }
}

data "aws_iam_policy_document" "bayko_task" {
  statement {
    sid       = "ReadTasksAndCancels"
    actions   = ["s3:GetObject"]
    resources = ["${var.tasks_bucket_arn}/inbox/*", "${var.tasks_bucket_arn}/cancel/*"]
  }
  statement {
    sid       = "ClaimAndFinishStatuses"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${var.tasks_bucket_arn}/status/*"]
  }
  statement {
    sid       = "WriteArtifacts"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${var.artifacts_bucket_arn}/*"]
  }
  statement {
    # Without it S3 answers 403, not 404, for a missing cancel/ or status/ object, and Bayko
    # reads "no cancel request" and "not claimed yet" from that 404.
    sid       = "ListTasksBucket"
    actions   = ["s3:ListBucket"]
    resources = [var.tasks_bucket_arn]
  }
  statement {
    sid       = "WorkTheQueue"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
    resources = [var.queue_arn]
  }
  statement {
    # The queue-depth gauges Bayko exports (visible and in-flight messages).
    sid       = "ReadQueueDepth"
    actions   = ["sqs:GetQueueAttributes"]
    resources = [var.queue_arn]
  }
  statement {
    sid       = "PublishCompletionEvents"
    actions   = ["events:PutEvents"]
    resources = [var.event_bus_arn]
  }
  dynamic "statement" {
    for_each = var.llm_provider == "bedrock" ? [1] : []
    content {
      sid       = "InvokeTheModel"
      actions   = ["bedrock:InvokeModel"]
      resources = [for id in var.bedrock_model_ids : "arn:aws:bedrock:${data.aws_region.current.region}::foundation-model/${id}"]
    }
  }
}

resource "aws_iam_role" "brown_task" {
  name               = "${var.name}-brown-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy" "brown_task" {
  name   = "least-privilege"
  role   = aws_iam_role.brown_task.id
  policy = data.aws_iam_policy_document.brown_task.json
}

resource "aws_iam_role" "bayko_task" {
  name               = "${var.name}-bayko-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy" "bayko_task" {
  name   = "least-privilege"
  role   = aws_iam_role.bayko_task.id
  policy = data.aws_iam_policy_document.bayko_task.json
}

# ------------------------------------------------------------------ execution roles

locals {
  secrets = {
    brown = compact([var.brown_api_keys_secret_arn])
    bayko = compact([var.anthropic_api_key_secret_arn])
  }
}

data "aws_iam_policy_document" "execution" {
  for_each = local.secrets

  statement {
    # GetAuthorizationToken has no resource-level permissions.
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    sid       = "PullImage"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = [aws_ecr_repository.this[each.key].arn]
  }
  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.service[each.key].arn}:*"]
  }
  dynamic "statement" {
    for_each = length(each.value) > 0 ? [1] : []
    content {
      sid       = "ReadSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = each.value
    }
  }
}

resource "aws_iam_role" "execution" {
  for_each           = local.secrets
  name               = "${var.name}-${each.key}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy" "execution" {
  for_each = local.secrets
  name     = "pull-log-secrets"
  role     = aws_iam_role.execution[each.key].id
  policy   = data.aws_iam_policy_document.execution[each.key].json
}
