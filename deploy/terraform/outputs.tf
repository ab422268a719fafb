output "state_table_name" {
  description = "The DynamoDB state table."
  value       = aws_dynamodb_table.state.name
}

output "state_table_arn" {
  description = "ARN of the state table."
  value       = aws_dynamodb_table.state.arn
}

output "state_table_stream_arn" {
  description = "ARN of the state table's stream, for projectors (examples/search_projector) and CDC consumers."
  value       = aws_dynamodb_table.state.stream_arn
}

output "swap_table_name" {
  description = "The swap alias table, or null when swap_enabled is false."
  value       = var.swap_enabled ? aws_dynamodb_table.swap[0].name : null
}

output "query_url" {
  description = "Base URL of the query service (Connect, gRPC-Web, /healthz)."
  value       = "${var.certificate_arn == null ? "http" : "https"}://${aws_lb.query.dns_name}"
}

output "worker_service_name" {
  description = "The worker ECS service."
  value       = aws_ecs_service.worker.name
}

output "query_service_name" {
  description = "The query ECS service."
  value       = aws_ecs_service.query.name
}

output "worker_role_arn" {
  description = "The worker's task role."
  value       = aws_iam_role.worker.arn
}

output "query_role_arn" {
  description = "The query service's task role."
  value       = aws_iam_role.query.arn
}
