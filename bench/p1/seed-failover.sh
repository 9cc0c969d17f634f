#!/usr/bin/env bash
# Seed 001 "Runbook 1: Database Failover", steps 1–8, as the seed writes them: the AWS CLI, one command after the
# other. Only the names are variables (the bench makes the topology); step 5's hand edit of task-definition.json is
# done with jq; step 8's `aws logs tail --follow` (AWS CLI v2 only, and it never ends) is its CLI v1 equivalent,
# one filter-log-events call.
set -euo pipefail
# The emulator: AWS CLI v1's RDS commands ignore AWS_ENDPOINT_URL (a customization of theirs resolves the endpoint
# again), so every call is given it explicitly. Unset against AWS.
aws() { command aws ${AWS_ENDPOINT_URL:+--endpoint-url "$AWS_ENDPOINT_URL"} "$@"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1. Verify Primary Database Status
aws rds describe-db-instances --db-instance-identifier "$PRIMARY_DB" --region "$PRIMARY_REGION" \
  --query 'DBInstances[0].DBInstanceStatus'

# 2. Check Read Replica Health
aws rds describe-db-instances --db-instance-identifier "$REPLICA_DB" --region "$SECONDARY_REGION" \
  --query 'DBInstances[0].[DBInstanceStatus,ReadReplicaSourceDBInstanceIdentifier]'
aws rds describe-db-instances --db-instance-identifier "$REPLICA_DB" --region "$SECONDARY_REGION" \
  --query 'DBInstances[0].ReplicaLag'

# 3. Pause Application
aws ecs update-service --cluster "$PRIMARY_CLUSTER" --service "$PRIMARY_SERVICE" --desired-count 0 \
  --region "$PRIMARY_REGION" > /dev/null

# 4. Promote Read Replica
aws rds promote-read-replica --db-instance-identifier "$REPLICA_DB" --backup-retention-period 7 \
  --region "$SECONDARY_REGION" > /dev/null
aws rds wait db-instance-available --db-instance-identifier "$REPLICA_DB" --region "$SECONDARY_REGION"

# 5. Update Application Configuration: the task definition with the new database endpoint
endpoint=$(aws rds describe-db-instances --db-instance-identifier "$REPLICA_DB" --region "$SECONDARY_REGION" \
  --query 'DBInstances[0].Endpoint.Address' --output text)
aws ecs describe-task-definition --task-definition "$FAMILY" --region "$SECONDARY_REGION" --query taskDefinition \
  | jq --arg host "$endpoint" '{family, cpu, memory, networkMode, requiresCompatibilities, containerDefinitions: [.containerDefinitions[] | .environment =
      ([.environment[]? | select(.name != "DATABASE_HOST")] + [{name: "DATABASE_HOST", value: $host}])]}' \
  > "$work/task-definition.json"
revision=$(aws ecs register-task-definition --cli-input-json "file://$work/task-definition.json" \
  --region "$SECONDARY_REGION" --query 'taskDefinition.taskDefinitionArn' --output text)

# 6. Start Application in Secondary Region
aws ecs update-service --cluster "$SECONDARY_CLUSTER" --service "$SECONDARY_SERVICE" --desired-count 2 \
  --task-definition "$revision" --region "$SECONDARY_REGION" > /dev/null
aws ecs wait services-stable --cluster "$SECONDARY_CLUSTER" --services "$SECONDARY_SERVICE" --region "$SECONDARY_REGION"

# 7. Update DNS (Route53)
cat > "$work/failover-to-secondary.json" <<JSON
{"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {"Name": "$RECORD_NAME", "Type": "A",
  "SetIdentifier": "primary", "Failover": "PRIMARY",
  "AliasTarget": {"HostedZoneId": "$ALB_ZONE", "DNSName": "$SECONDARY_ALB", "EvaluateTargetHealth": true}}}]}
JSON
aws route53 change-resource-record-sets --hosted-zone-id "$HOSTED_ZONE_ID" \
  --change-batch "file://$work/failover-to-secondary.json" > /dev/null

# 8. Verify Application
curl -sf "$HEALTH_URL?check=db" > /dev/null
curl -s -X POST "$LOGIN_URL" -H "Content-Type: application/json" \
  -d '{"email":"test@example.com","password":"test"}' > /dev/null
aws logs filter-log-events --log-group-name "$LOG_GROUP" --region "$SECONDARY_REGION" --limit 50 > /dev/null
