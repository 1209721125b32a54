# Completion events: the bus Bayko publishes "Task Finished" to (BAYKO_EVENT_BUS), and an
# optional webhook target through an API destination. Users add their own rules on the bus
# (SNS, a queue, another account) without changing Bayko.

locals {
  webhook = var.webhook_url != ""
}

resource "aws_cloudwatch_event_bus" "tasks" {
  name = "${var.name}-tasks"
}

# What Bayko's task role needs: publishing to this bus and nothing else.
data "aws_iam_policy_document" "publish" {
  statement {
    actions   = ["events:PutEvents"]
    resources = [aws_cloudwatch_event_bus.tasks.arn]
  }
}

resource "aws_cloudwatch_event_rule" "webhook" {
  count          = local.webhook ? 1 : 0
  name           = "${var.name}-task-finished-webhook"
  description    = "Task Finished events to the webhook"
  event_bus_name = aws_cloudwatch_event_bus.tasks.name
  event_pattern = jsonencode({
    source        = ["bayko"]
    "detail-type" = ["Task Finished"]
    detail        = { state = var.webhook_states }
  })
}

resource "aws_cloudwatch_event_connection" "webhook" {
  count              = local.webhook ? 1 : 0
  name               = "${var.name}-webhook"
  authorization_type = "API_KEY"
  auth_parameters {
    api_key {
      key   = var.webhook_auth_header_name
      value = var.webhook_auth_header_value
    }
  }
}

resource "aws_cloudwatch_event_api_destination" "webhook" {
  count                            = local.webhook ? 1 : 0
  name                             = "${var.name}-webhook"
  invocation_endpoint              = var.webhook_url
  http_method                      = "POST"
  invocation_rate_limit_per_second = var.webhook_rate_per_second
  connection_arn                   = aws_cloudwatch_event_connection.webhook[0].arn
}

# Events the webhook still refused after EventBridge's retries land here, not nowhere.
resource "aws_sqs_queue" "webhook_dlq" {
  count                     = local.webhook ? 1 : 0
  name                      = "${var.name}-webhook-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

data "aws_iam_policy_document" "webhook_dlq" {
  count = local.webhook ? 1 : 0
  statement {
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.webhook_dlq[0].arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.webhook[0].arn]
    }
  }
}

resource "aws_sqs_queue_policy" "webhook_dlq" {
  count     = local.webhook ? 1 : 0
  queue_url = aws_sqs_queue.webhook_dlq[0].id
  policy    = data.aws_iam_policy_document.webhook_dlq[0].json
}

data "aws_iam_policy_document" "events_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "webhook" {
  count              = local.webhook ? 1 : 0
  name               = "${var.name}-webhook-invoke"
  assume_role_policy = data.aws_iam_policy_document.events_assume.json
}

resource "aws_iam_role_policy" "webhook" {
  count = local.webhook ? 1 : 0
  name  = "invoke-api-destination"
  role  = aws_iam_role.webhook[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["events:InvokeApiDestination"]
      Resource = [aws_cloudwatch_event_api_destination.webhook[0].arn]
    }]
  })
}

resource "aws_cloudwatch_event_target" "webhook" {
  count          = local.webhook ? 1 : 0
  rule           = aws_cloudwatch_event_rule.webhook[0].name
  event_bus_name = aws_cloudwatch_event_bus.tasks.name
  target_id      = "webhook"
  arn            = aws_cloudwatch_event_api_destination.webhook[0].arn
  role_arn       = aws_iam_role.webhook[0].arn

  # The webhook receives the detail only: the Task Finished document.
  input_path = "$.detail"

  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }

  dead_letter_config {
    arn = aws_sqs_queue.webhook_dlq[0].arn
  }
}
