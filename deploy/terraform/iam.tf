# Least privilege: the execution role pulls the image and writes logs; each task role may touch only its own tables.

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

locals {
  swap_table_arns = [for t in aws_dynamodb_table.swap : t.arn]
}

# The worker folds deltas: UpdateItem (ADD, set-if-greater, CAS), PutItem and
# ConditionCheckItem for claim rows inside TransactWriteItems (IAM checks each
# action of a transaction), reads for read-combine-write.
data "aws_iam_policy_document" "worker" {
  statement {
    sid = "StateReadWrite"
    actions = [
      "dynamodb:GetItem",
      "dynamodb:BatchGetItem",
      "dynamodb:UpdateItem",
      "dynamodb:PutItem",
      "dynamodb:ConditionCheckItem",
    ]
    resources = [aws_dynamodb_table.state.arn]
  }

  dynamic "statement" {
    for_each = var.swap_enabled ? [1] : []
    content {
      sid       = "SwapRead"
      actions   = ["dynamodb:GetItem"]
      resources = local.swap_table_arns
    }
  }

  statement {
    sid       = "AutoscaleMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"] # PutMetricData has no resource type; the namespace condition scopes it
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [var.metrics_namespace]
    }
  }
}

# The query service only reads.
data "aws_iam_policy_document" "query" {
  statement {
    sid       = "StateRead"
    actions   = ["dynamodb:GetItem", "dynamodb:BatchGetItem"]
    resources = [aws_dynamodb_table.state.arn]
  }

  dynamic "statement" {
    for_each = var.swap_enabled ? [1] : []
    content {
      sid       = "SwapRead"
      actions   = ["dynamodb:GetItem"]
      resources = local.swap_table_arns
    }
  }
}

resource "aws_iam_role" "worker" {
  name               = "${var.name}-worker"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "worker" {
  name   = "${var.name}-worker"
  role   = aws_iam_role.worker.id
  policy = data.aws_iam_policy_document.worker.json
}

resource "aws_iam_role" "query" {
  name               = "${var.name}-query"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "query" {
  name   = "${var.name}-query"
  role   = aws_iam_role.query.id
  policy = data.aws_iam_policy_document.query.json
}
