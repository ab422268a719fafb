# Target tracking on the backlog per worker task: ConsumerLag (published by the
# worker's CloudWatchEmitter, see docs/autoscaling.md) / RunningTaskCount.

resource "aws_appautoscaling_target" "worker" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.worker.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.worker_min_count
  max_capacity       = var.worker_max_count
}

resource "aws_appautoscaling_policy" "worker_backlog" {
  name               = "${var.name}-backlog-per-task"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.worker.service_namespace
  resource_id        = aws_appautoscaling_target.worker.resource_id
  scalable_dimension = aws_appautoscaling_target.worker.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.backlog_per_task_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    customized_metric_specification {
      metrics {
        id          = "lag"
        return_data = false
        metric_stat {
          metric {
            namespace   = var.metrics_namespace
            metric_name = "ConsumerLag"
            dimensions {
              name  = "Pipeline"
              value = var.pipeline
            }
          }
          stat = "Average"
        }
      }

      metrics {
        id          = "tasks"
        return_data = false
        metric_stat {
          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"
            dimensions {
              name  = "ClusterName"
              value = aws_ecs_cluster.this.name
            }
            dimensions {
              name  = "ServiceName"
              value = aws_ecs_service.worker.name
            }
          }
          stat = "Average"
        }
      }

      metrics {
        id          = "backlog_per_task"
        expression  = "lag / IF(tasks > 0, tasks, 1)"
        label       = "Consumer lag per running worker task"
        return_data = true
      }
    }
  }
}
