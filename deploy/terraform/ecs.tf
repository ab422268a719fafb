# The Fargate cluster, the worker service (scaled on lag) and the query service (behind the ALB).

data "aws_region" "current" {}

resource "aws_ecs_cluster" "this" {
  name = var.name

  # RunningTaskCount, the divisor of the backlog-per-task scaling metric.
  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "worker" {
  name              = "/murmur/${var.name}/worker"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_cloudwatch_log_group" "query" {
  name              = "/murmur/${var.name}/query"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

locals {
  common_environment = merge(
    {
      AWS_REGION               = data.aws_region.current.name
      MURMUR_PIPELINE          = var.pipeline
      MURMUR_STATE_TABLE       = aws_dynamodb_table.state.name
      MURMUR_SWAP_TABLE        = var.swap_enabled ? aws_dynamodb_table.swap[0].name : ""
      MURMUR_METRICS_NAMESPACE = var.metrics_namespace
    },
    var.environment,
  )
  environment = [for k in sort(keys(local.common_environment)) : {
    name  = k
    value = local.common_environment[k]
  }]
}

resource "aws_ecs_task_definition" "worker" {
  family                   = "${var.name}-worker"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.worker_cpu
  memory                   = var.worker_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.worker.arn

  container_definitions = jsonencode([{
    name        = "worker"
    image       = var.image
    command     = var.worker_command
    essential   = true
    environment = local.environment
    # The worker flushes and commits on SIGTERM; give it time before SIGKILL.
    stopTimeout = 60
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.worker.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = "worker"
      }
    }
  }])

  tags = var.tags
}

resource "aws_ecs_task_definition" "query" {
  family                   = "${var.name}-query"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.query_cpu
  memory                   = var.query_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.query.arn

  container_definitions = jsonencode([{
    name         = "query"
    image        = var.image
    command      = var.query_command
    essential    = true
    environment  = concat(local.environment, [{ name = "PORT", value = tostring(var.query_port) }])
    portMappings = [{ containerPort = var.query_port, protocol = "tcp" }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.query.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = "query"
      }
    }
  }])

  tags = var.tags
}

resource "aws_ecs_service" "worker" {
  name            = "${var.name}-worker"
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.worker.arn
  desired_count   = var.worker_min_count
  launch_type     = "FARGATE"

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.worker.id]
    assign_public_ip = false
  }

  # The scaling policy owns the desired count after creation.
  lifecycle {
    ignore_changes = [desired_count]
  }

  tags = var.tags
}

resource "aws_ecs_service" "query" {
  name            = "${var.name}-query"
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.query.arn
  desired_count   = var.query_desired_count
  launch_type     = "FARGATE"

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.query.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.query.arn
    container_name   = "query"
    container_port   = var.query_port
  }

  depends_on = [aws_lb_listener.query]

  tags = var.tags
}
