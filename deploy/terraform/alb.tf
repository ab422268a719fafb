# The query service behind an Application Load Balancer: Connect and gRPC-Web over HTTP/1.1, health on /healthz.

resource "aws_security_group" "alb" {
  name        = "${var.name}-query-alb"
  description = "Query load balancer"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "alb" {
  for_each          = toset(var.query_allowed_cidrs)
  security_group_id = aws_security_group.alb.id
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = local.listener_port
  to_port           = local.listener_port
}

resource "aws_vpc_security_group_egress_rule" "alb_to_query" {
  security_group_id            = aws_security_group.alb.id
  referenced_security_group_id = aws_security_group.query.id
  ip_protocol                  = "tcp"
  from_port                    = var.query_port
  to_port                      = var.query_port
}

resource "aws_security_group" "query" {
  name        = "${var.name}-query"
  description = "Query tasks: reachable from the load balancer only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "query_from_alb" {
  security_group_id            = aws_security_group.query.id
  referenced_security_group_id = aws_security_group.alb.id
  ip_protocol                  = "tcp"
  from_port                    = var.query_port
  to_port                      = var.query_port
}

resource "aws_vpc_security_group_egress_rule" "query_https" {
  security_group_id = aws_security_group.query.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  description       = "DynamoDB and ECR endpoints"
}

resource "aws_security_group" "worker" {
  name        = "${var.name}-worker"
  description = "Worker tasks: no inbound traffic"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_egress_rule" "worker_all" {
  security_group_id = aws_security_group.worker.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
  description       = "Kafka brokers, DynamoDB, CloudWatch, ECR"
}

locals {
  listener_port = var.certificate_arn == null ? 80 : 443
}

resource "aws_lb" "query" {
  name               = "${var.name}-query"
  internal           = var.alb_internal
  load_balancer_type = "application"
  security_groups    = [aws_security_group.alb.id]
  subnets            = var.alb_subnet_ids
  tags               = var.tags
}

resource "aws_lb_target_group" "query" {
  name        = "${var.name}-query"
  port        = var.query_port
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = var.vpc_id

  health_check {
    path                = "/healthz"
    matcher             = "200"
    interval            = 15
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  deregistration_delay = 15

  tags = var.tags
}

resource "aws_lb_listener" "query" {
  load_balancer_arn = aws_lb.query.arn
  port              = local.listener_port
  protocol          = var.certificate_arn == null ? "HTTP" : "HTTPS"
  certificate_arn   = var.certificate_arn
  ssl_policy        = var.certificate_arn == null ? null : "ELBSecurityPolicy-TLS13-1-2-2021-06"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.query.arn
  }

  tags = var.tags
}
