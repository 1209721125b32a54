data "aws_region" "current" {}

resource "aws_ecs_cluster" "this" {
  name = var.name

  # Container Insights publishes RunningTaskCount, the divisor of Bayko's backlog per task.
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_cloudwatch_log_group" "service" {
  for_each          = toset(["brown", "bayko"])
  name              = "/bayko-brown/${var.name}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

locals {
  common_environment = [
    { name = "AWS_REGION", value = data.aws_region.current.region },
    { name = "BB_TASKS_BUCKET", value = var.tasks_bucket },
    { name = "BB_ARTIFACTS_BUCKET", value = var.artifacts_bucket },
    { name = "LOG_FORMAT", value = "json" },
  ]

  log_configuration = {
    for service, group in aws_cloudwatch_log_group.service : service => {
      logDriver = "awslogs"
      options = {
        awslogs-group         = group.name
        awslogs-region        = data.aws_region.current.region
        awslogs-stream-prefix = service
      }
    }
  }

  brown_container = {
    name                   = "brown"
    image                  = var.brown_image
    essential              = true
    readonlyRootFilesystem = true
    user                   = "65532:65532"
    portMappings           = [{ containerPort = 8080, protocol = "tcp" }]
    environment = concat(local.common_environment, [
      { name = "BROWN_BIND", value = "0.0.0.0:8080" },
      { name = "BROWN_LINK_TTL_SECONDS", value = tostring(var.artifact_link_ttl_seconds) },
    ])
    secrets = [for arn in local.secrets.brown : { name = "BROWN_API_KEYS", valueFrom = arn }]
    # Brown drains in-flight requests on SIGTERM; the ALB deregisters it first.
    stopTimeout      = 30
    logConfiguration = local.log_configuration.brown
  }

  bayko_container = merge({
    name                   = "bayko"
    image                  = var.bayko_image
    essential              = true
    readonlyRootFilesystem = true
    user                   = "65532:65532"
    environment = concat(local.common_environment, [
      { name = "BAYKO_QUEUE_URL", value = var.queue_url },
      { name = "BAYKO_MAX_IN_FLIGHT", value = tostring(var.bayko_max_in_flight) },
      { name = "BAYKO_LEASE_SECONDS", value = tostring(var.queue_visibility_timeout_seconds) },
      { name = "BAYKO_SHUTDOWN_GRACE_SECONDS", value = tostring(var.bayko_shutdown_grace_seconds) },
      { name = "BAYKO_METRICS_BIND", value = "127.0.0.1:9100" },
      { name = "BAYKO_EVENT_BUS", value = var.event_bus_name },
      { name = "BAYKO_CONFIG_TOML", value = var.bayko_engine_config },
    ])
    secrets = [for arn in local.secrets.bayko : { name = "ANTHROPIC_API_KEY", valueFrom = arn }]
    # Above the grace period: in-flight tasks finish or are handed back before SIGKILL.
    stopTimeout      = var.bayko_shutdown_grace_seconds + 5
    logConfiguration = local.log_configuration.bayko
    }, var.bayko_health_check_command == null ? {} : {
    healthCheck = {
      command     = var.bayko_health_check_command
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 10
    }
  })
}

resource "aws_ecs_task_definition" "brown" {
  family                   = "${var.name}-brown"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.brown_cpu
  memory                   = var.brown_memory
  task_role_arn            = aws_iam_role.brown_task.arn
  execution_role_arn       = aws_iam_role.execution["brown"].arn
  container_definitions    = jsonencode([local.brown_container])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
}

resource "aws_ecs_task_definition" "bayko" {
  family                   = "${var.name}-bayko"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.bayko_cpu
  memory                   = var.bayko_memory
  task_role_arn            = aws_iam_role.bayko_task.arn
  execution_role_arn       = aws_iam_role.execution["bayko"].arn
  container_definitions    = jsonencode([local.bayko_container])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
}

resource "aws_ecs_service" "brown" {
  name                   = "brown"
  cluster                = aws_ecs_cluster.this.id
  task_definition        = aws_ecs_task_definition.brown.arn
  desired_count          = var.brown_desired_count
  launch_type            = "FARGATE"
  propagate_tags         = "SERVICE"
  enable_execute_command = false

  network_configuration {
    subnets          = var.public_app_subnet_ids
    security_groups  = [aws_security_group.brown.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.brown.arn
    container_name   = "brown"
    container_port   = 8080
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener.https]
}

resource "aws_ecs_service" "bayko" {
  name                   = "bayko"
  cluster                = aws_ecs_cluster.this.id
  task_definition        = aws_ecs_task_definition.bayko.arn
  desired_count          = var.bayko_min_count
  launch_type            = "FARGATE"
  propagate_tags         = "SERVICE"
  enable_execute_command = false

  network_configuration {
    subnets          = var.private_app_subnet_ids
    security_groups  = [aws_security_group.bayko.id]
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # Autoscaling owns the count.
  lifecycle {
    ignore_changes = [desired_count]
  }
}
