# Bayko & Brown on AWS: two isolated VPCs, S3 + EventBridge + SQS between them, ECS Fargate
# services, autoscaling on backlog per task, signed artifact downloads through CloudFront,
# CloudWatch dashboard and alarms. docs/deployment.md walks through it.

locals {
  name = "bayko-brown-${var.environment}"
}

data "aws_caller_identity" "current" {}

# One customer-managed key for the log groups and the image repositories.
resource "aws_kms_key" "logs" {
  description             = "${local.name}: CloudWatch Logs and ECR"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.logs_key.json
}

resource "aws_kms_alias" "logs" {
  name          = "alias/${local.name}-logs"
  target_key_id = aws_kms_key.logs.key_id
}

data "aws_iam_policy_document" "logs_key" {
  statement {
    # checkov:skip=CKV_AWS_109: a key policy's "*" is the key itself; the account root keeps administration as AWS requires
    # checkov:skip=CKV_AWS_111: key policies name the key as "*"; only the account root may manage it
    # checkov:skip=CKV_AWS_356: key policies name the key as "*"; "*" here is this key alone
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
  statement {
    sid       = "CloudWatchLogsEncrypts"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:aws:logs:${var.region}:${data.aws_caller_identity.current.account_id}:log-group:/bayko-brown/${local.name}/*"]
    }
  }
}

module "network" {
  source                  = "./modules/network"
  name                    = local.name
  public_vpc_cidr         = var.public_vpc_cidr
  private_vpc_cidr        = var.private_vpc_cidr
  availability_zones      = var.availability_zones
  nat_for_llm             = var.llm_provider == "anthropic"
  flow_log_retention_days = var.log_retention_days
  kms_key_arn             = aws_kms_key.logs.arn
}

module "storage" {
  source                     = "./modules/storage"
  name                       = local.name
  task_retention_days        = var.task_retention_days
  artifact_retention_days    = var.artifact_retention_days
  noncurrent_version_days    = var.noncurrent_version_days
  artifacts_distribution_arn = module.delivery.distribution_arn
}

module "messaging" {
  source                     = "./modules/messaging"
  name                       = local.name
  tasks_bucket               = module.storage.tasks_bucket
  visibility_timeout_seconds = var.queue_visibility_timeout_seconds
  max_receive_count          = var.queue_max_receive_count
}

module "compute" {
  source = "./modules/compute"
  name   = local.name

  public_vpc_id                      = module.network.public_vpc_id
  public_edge_subnet_ids             = module.network.public_edge_subnet_ids
  public_app_subnet_ids              = module.network.public_app_subnet_ids
  public_endpoint_security_group_id  = module.network.public_endpoint_security_group_id
  private_vpc_id                     = module.network.private_vpc_id
  private_app_subnet_ids             = module.network.private_app_subnet_ids
  private_endpoint_security_group_id = module.network.private_endpoint_security_group_id
  s3_prefix_list_ids                 = module.network.s3_prefix_list_ids
  allowed_ingress_cidrs              = var.allowed_ingress_cidrs
  certificate_arn                    = var.certificate_arn

  brown_image          = var.brown_image
  bayko_image          = var.bayko_image
  tasks_bucket         = module.storage.tasks_bucket
  tasks_bucket_arn     = module.storage.tasks_bucket_arn
  artifacts_bucket     = module.storage.artifacts_bucket
  artifacts_bucket_arn = module.storage.artifacts_bucket_arn
  queue_url            = module.messaging.queue_url
  queue_arn            = module.messaging.queue_arn
  queue_name           = module.messaging.queue_name

  event_bus_name      = module.completion.bus_name
  event_bus_arn       = module.completion.bus_arn
  bayko_engine_config = local.bayko_engine_config

  llm_provider                 = var.llm_provider
  bedrock_model_ids            = var.bedrock_model_ids
  anthropic_api_key_secret_arn = var.anthropic_api_key_secret_arn
  brown_api_keys_secret_arn    = var.brown_api_keys_secret_arn
  kms_key_arn                  = aws_kms_key.logs.arn
  log_retention_days           = var.log_retention_days
  artifact_link_ttl_seconds    = var.artifact_link_ttl_seconds

  brown_desired_count              = var.brown_desired_count
  brown_max_count                  = var.brown_max_count
  bayko_min_count                  = var.bayko_min_count
  bayko_max_count                  = var.bayko_max_count
  bayko_backlog_per_task_target    = var.bayko_backlog_per_task_target
  bayko_scale_out_cooldown_seconds = var.bayko_scale_out_cooldown_seconds
  bayko_scale_in_cooldown_seconds  = var.bayko_scale_in_cooldown_seconds
  bayko_max_in_flight              = var.bayko_max_in_flight
  bayko_shutdown_grace_seconds     = var.bayko_shutdown_grace_seconds
  queue_visibility_timeout_seconds = var.queue_visibility_timeout_seconds
}

module "completion" {
  source                    = "./modules/completion"
  name                      = local.name
  webhook_url               = var.completion_webhook_url
  webhook_auth_header_value = var.completion_webhook_secret
}

# Bayko's engine: the given configuration, or one that turns on the deployment's LLM provider.
locals {
  bayko_engine_config = var.bayko_engine_config != "" ? var.bayko_engine_config : <<-EOT
    [llm]
    provider = "${var.llm_provider}"
    model = "${var.llm_provider == "bedrock" ? var.bedrock_model_ids[0] : var.anthropic_model}"
  EOT
}

module "delivery" {
  source                                = "./modules/delivery"
  name                                  = local.name
  artifacts_bucket_regional_domain_name = module.storage.artifacts_bucket_regional_domain_name
  public_key_pem                        = var.cloudfront_public_key_pem
  certificate_arn                       = var.cloudfront_certificate_arn
}

module "monitoring" {
  source                        = "./modules/monitoring"
  name                          = local.name
  queue_name                    = module.messaging.queue_name
  dead_letter_queue_name        = module.messaging.dead_letter_queue_name
  rule_dead_letter_queue_name   = module.messaging.rule_dead_letter_queue_name
  cluster_name                  = module.compute.cluster_name
  brown_service_name            = module.compute.brown_service_name
  bayko_service_name            = module.compute.bayko_service_name
  alb_arn_suffix                = module.compute.alb_arn_suffix
  target_group_arn_suffix       = module.compute.target_group_arn_suffix
  log_group_names               = module.compute.log_group_names
  bayko_backlog_per_task_target = var.bayko_backlog_per_task_target
  alarm_topic_arn               = var.alarm_topic_arn
}
