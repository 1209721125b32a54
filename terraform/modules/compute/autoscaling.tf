# Bayko: target tracking on backlog per task, the visible messages divided by the running
# tasks (metric math), as AWS recommends for queue workers. Brown: target tracking on CPU.
# Bayko's target, cooldowns and bounds come from the root module's variables, whose defaults
# are the row the autoscaling simulation chose (docs/autoscaling.md).

resource "aws_appautoscaling_target" "bayko" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.bayko.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.bayko_min_count
  max_capacity       = var.bayko_max_count
}

resource "aws_appautoscaling_policy" "bayko_backlog" {
  name               = "${var.name}-bayko-backlog-per-task"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.bayko.service_namespace
  resource_id        = aws_appautoscaling_target.bayko.resource_id
  scalable_dimension = aws_appautoscaling_target.bayko.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.bayko_backlog_per_task_target
    scale_out_cooldown = var.bayko_scale_out_cooldown_seconds
    scale_in_cooldown  = var.bayko_scale_in_cooldown_seconds

    customized_metric_specification {
      metrics {
        id          = "visible"
        label       = "Visible messages"
        return_data = false
        metric_stat {
          stat = "Sum"
          metric {
            namespace   = "AWS/SQS"
            metric_name = "ApproximateNumberOfMessagesVisible"
            dimensions {
              name  = "QueueName"
              value = var.queue_name
            }
          }
        }
      }

      # Messages being worked on count as backlog too: with visible messages alone, a busy
      # service that keeps up reads zero and target tracking would scale it in
      # (docs/autoscaling.md).
      metrics {
        id          = "in_flight"
        label       = "In-flight messages"
        return_data = false
        metric_stat {
          stat = "Sum"
          metric {
            namespace   = "AWS/SQS"
            metric_name = "ApproximateNumberOfMessagesNotVisible"
            dimensions {
              name  = "QueueName"
              value = var.queue_name
            }
          }
        }
      }

      metrics {
        id          = "running"
        label       = "Running Bayko tasks"
        return_data = false
        metric_stat {
          stat = "Average"
          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"
            dimensions {
              name  = "ClusterName"
              value = aws_ecs_cluster.this.name
            }
            dimensions {
              name  = "ServiceName"
              value = aws_ecs_service.bayko.name
            }
          }
        }
      }

      metrics {
        id          = "backlog_per_task"
        label       = "Backlog per task"
        expression  = "(visible + in_flight) / running"
        return_data = true
      }
    }
  }
}

resource "aws_appautoscaling_target" "brown" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.brown.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.brown_desired_count
  max_capacity       = var.brown_max_count
}

resource "aws_appautoscaling_policy" "brown_cpu" {
  name               = "${var.name}-brown-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.brown.service_namespace
  resource_id        = aws_appautoscaling_target.brown.resource_id
  scalable_dimension = aws_appautoscaling_target.brown.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = 60
    scale_out_cooldown = 60
    scale_in_cooldown  = 300
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}
