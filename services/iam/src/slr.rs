//! Service-linked roles: roles a service creates and owns, under
//! `/aws-service-role/<service>/`, with AWS's names and managed policies per service.

use crate::IamProvider;
use crate::roles::{RoleForm, role_value};
use crate::state::{Kind, Role, SlrTask, key};
use crate::util::{invalid_input, new_id, no_such, uuid};
use nephos_core::{AwsError, RequestContext, Value};
use std::collections::BTreeMap;

pub const OPS: &[&str] = &[
    "CreateServiceLinkedRole",
    "DeleteServiceLinkedRole",
    "GetServiceLinkedRoleDeletionStatus",
];

/// Per service principal: the role's name, its AWS managed policies (under
/// `arn:aws:iam::aws:policy/aws-service-role/`), whether a custom suffix is allowed,
/// and the description AWS gives the role. As AWS names them (recorded against AWS).
type Linked = (
    &'static str,
    &'static str,
    &'static [&'static str],
    bool,
    Option<&'static str>,
);

const SERVICES: &[Linked] = &[
    (
        "accountdiscovery.ssm.amazonaws.com",
        "AWSServiceRoleForAmazonSSM_AccountDiscovery",
        &["AWSSystemsManagerAccountDiscoveryServicePolicy"],
        false,
        None,
    ),
    (
        "acm.amazonaws.com",
        "AWSServiceRoleForCertificateManager",
        &["CertificateManagerServiceRolePolicy"],
        false,
        None,
    ),
    (
        "appmesh.amazonaws.com",
        "AWSServiceRoleForAppMesh",
        &["AWSAppMeshServiceRolePolicy"],
        false,
        None,
    ),
    (
        "autoscaling-plans.amazonaws.com",
        "AWSServiceRoleForAutoScalingPlans_EC2AutoScaling",
        &["AWSAutoScalingPlansEC2AutoScalingPolicy"],
        false,
        None,
    ),
    (
        "autoscaling.amazonaws.com",
        "AWSServiceRoleForAutoScaling",
        &["AutoScalingServiceRolePolicy"],
        true,
        None,
    ),
    (
        "backup.amazonaws.com",
        "AWSServiceRoleForBackup",
        &["AWSBackupServiceLinkedRolePolicyForBackup"],
        false,
        None,
    ),
    (
        "batch.amazonaws.com",
        "AWSServiceRoleForBatch",
        &["BatchServiceRolePolicy"],
        false,
        None,
    ),
    (
        "cassandra.application-autoscaling.amazonaws.com",
        "AWSServiceRoleForApplicationAutoScaling_CassandraTable",
        &["AWSApplicationAutoscalingCassandraTablePolicy"],
        false,
        None,
    ),
    (
        "cks.kms.amazonaws.com",
        "AWSServiceRoleForKeyManagementServiceCustomKeyStores",
        &["AWSKeyManagementServiceCustomKeyStoresServiceRolePolicy"],
        false,
        None,
    ),
    (
        "cloudtrail.amazonaws.com",
        "AWSServiceRoleForCloudTrail",
        &["CloudTrailServiceRolePolicy"],
        false,
        None,
    ),
    (
        "codestar-notifications.amazonaws.com",
        "AWSServiceRoleForCodeStarNotifications",
        &["AWSCodeStarNotificationsServiceRolePolicy"],
        false,
        None,
    ),
    (
        "config.amazonaws.com",
        "AWSServiceRoleForConfig",
        &["AWSConfigServiceRolePolicy"],
        false,
        None,
    ),
    (
        "connect.amazonaws.com",
        "AWSServiceRoleForAmazonConnect",
        &["AmazonConnectServiceLinkedRolePolicy"],
        true,
        None,
    ),
    (
        "dms-fleet-advisor.amazonaws.com",
        "AWSServiceRoleForDMSFleetAdvisor",
        &["AWSDMSFleetAdvisorServiceRolePolicy"],
        false,
        None,
    ),
    (
        "dms.amazonaws.com",
        "AWSServiceRoleForDMSServerless",
        &["AWSDMSServerlessServiceRolePolicy"],
        false,
        None,
    ),
    (
        "docdb-elastic.amazonaws.com",
        "AWSServiceRoleForDocDB-Elastic",
        &["AmazonDocDB-ElasticServiceRolePolicy"],
        false,
        None,
    ),
    (
        "ec2-instance-connect.amazonaws.com",
        "AWSServiceRoleForEc2InstanceConnect",
        &["Ec2InstanceConnectEndpoint"],
        false,
        None,
    ),
    (
        "ec2.application-autoscaling.amazonaws.com",
        "AWSServiceRoleForApplicationAutoScaling_EC2SpotFleetRequest",
        &["AWSApplicationAutoscalingEC2SpotFleetRequestPolicy"],
        false,
        None,
    ),
    (
        "ecr.amazonaws.com",
        "AWSServiceRoleForECRTemplate",
        &["ECRTemplateServiceRolePolicy"],
        false,
        None,
    ),
    (
        "ecs.amazonaws.com",
        "AWSServiceRoleForECS",
        &["AmazonECSServiceRolePolicy"],
        false,
        None,
    ),
    (
        "eks-connector.amazonaws.com",
        "AWSServiceRoleForAmazonEKSConnector",
        &["AmazonEKSConnectorServiceRolePolicy"],
        false,
        None,
    ),
    (
        "eks-fargate.amazonaws.com",
        "AWSServiceRoleForAmazonEKSForFargate",
        &["AmazonEKSForFargateServiceRolePolicy"],
        false,
        None,
    ),
    (
        "eks-nodegroup.amazonaws.com",
        "AWSServiceRoleForAmazonEKSNodegroup",
        &["AWSServiceRoleForAmazonEKSNodegroup"],
        false,
        None,
    ),
    (
        "eks.amazonaws.com",
        "AWSServiceRoleForAmazonEKS",
        &["AmazonEKSServiceRolePolicy"],
        false,
        None,
    ),
    (
        "elasticache.amazonaws.com",
        "AWSServiceRoleForElastiCache",
        &["ElastiCacheServiceRolePolicy"],
        false,
        None,
    ),
    (
        "elasticbeanstalk.amazonaws.com",
        "AWSServiceRoleForElasticBeanstalk",
        &["AWSElasticBeanstalkServiceRolePolicy"],
        false,
        None,
    ),
    (
        "elasticfilesystem.amazonaws.com",
        "AWSServiceRoleForAmazonElasticFileSystem",
        &["AmazonElasticFileSystemServiceRolePolicy"],
        false,
        None,
    ),
    (
        "elasticloadbalancing.amazonaws.com",
        "AWSServiceRoleForElasticLoadBalancing",
        &["AWSElasticLoadBalancingServiceRolePolicy"],
        false,
        None,
    ),
    (
        "email.cognito-idp.amazonaws.com",
        "AWSServiceRoleForAmazonCognitoIdpEmailService",
        &["AmazonCognitoIdpEmailServiceRolePolicy"],
        false,
        None,
    ),
    (
        "emr-containers.amazonaws.com",
        "AWSServiceRoleForAmazonEMRContainers",
        &["AmazonEMRContainersServiceRolePolicy"],
        false,
        None,
    ),
    (
        "emrwal.amazonaws.com",
        "AWSServiceRoleForEMRWAL",
        &["EMRDescribeClusterPolicyForEMRWAL"],
        false,
        None,
    ),
    (
        "fis.amazonaws.com",
        "AWSServiceRoleForFIS",
        &["AmazonFISServiceRolePolicy"],
        false,
        None,
    ),
    (
        "grafana.amazonaws.com",
        "AWSServiceRoleForAmazonGrafana",
        &["AmazonGrafanaServiceLinkedRolePolicy"],
        false,
        None,
    ),
    (
        "imagebuilder.amazonaws.com",
        "AWSServiceRoleForImageBuilder",
        &["AWSServiceRoleForImageBuilder"],
        false,
        None,
    ),
    (
        "iotmanagedintegrations.amazonaws.com",
        "AWSServiceRoleForIoTManagedIntegrations",
        &["AWSIoTManagedIntegrationsRolePolicy"],
        false,
        None,
    ),
    (
        "kafka.amazonaws.com",
        "AWSServiceRoleForKafka",
        &["KafkaServiceRolePolicy"],
        false,
        None,
    ),
    (
        "kafkaconnect.amazonaws.com",
        "AWSServiceRoleForKafkaConnect",
        &["KafkaConnectServiceRolePolicy"],
        false,
        None,
    ),
    (
        "lakeformation.amazonaws.com",
        "AWSServiceRoleForLakeFormationDataAccess",
        &["LakeFormationDataAccessServiceRolePolicy"],
        false,
        None,
    ),
    (
        "lex.amazonaws.com",
        "AWSServiceRoleForLexBots",
        &["AmazonLexBotPolicy"],
        false,
        None,
    ),
    (
        "lexv2.amazonaws.com",
        "AWSServiceRoleForLexV2Bots",
        &["AmazonLexV2BotPolicy"],
        true,
        None,
    ),
    (
        "lightsail.amazonaws.com",
        "AWSServiceRoleForLightsail",
        &["LightsailExportAccess"],
        false,
        None,
    ),
    (
        "m2.amazonaws.com",
        "AWSServiceRoleForAWSM2",
        &["AWSM2ServicePolicy"],
        false,
        None,
    ),
    (
        "memorydb.amazonaws.com",
        "AWSServiceRoleForMemoryDB",
        &["MemoryDBServiceRolePolicy"],
        false,
        None,
    ),
    (
        "mq.amazonaws.com",
        "AWSServiceRoleForAmazonMQ",
        &["AmazonMQServiceRolePolicy"],
        false,
        None,
    ),
    (
        "mrk.kms.amazonaws.com",
        "AWSServiceRoleForKeyManagementServiceMultiRegionKeys",
        &["AWSKeyManagementServiceMultiRegionKeysServiceRolePolicy"],
        false,
        None,
    ),
    (
        "notifications.amazonaws.com",
        "AWSServiceRoleForAwsUserNotifications",
        &["AWSUserNotificationsServiceLinkedRolePolicy"],
        false,
        None,
    ),
    (
        "observability.aoss.amazonaws.com",
        "AWSServiceRoleForAmazonOpenSearchServerless",
        &["AmazonOpenSearchServerlessServiceRolePolicy"],
        false,
        None,
    ),
    (
        "opensearchservice.amazonaws.com",
        "AWSServiceRoleForAmazonOpenSearchService",
        &["AmazonOpenSearchServiceRolePolicy"],
        false,
        None,
    ),
    (
        "ops.apigateway.amazonaws.com",
        "AWSServiceRoleForAPIGateway",
        &["APIGatewayServiceRolePolicy"],
        false,
        None,
    ),
    (
        "ops.emr-serverless.amazonaws.com",
        "AWSServiceRoleForAmazonEMRServerless",
        &["AmazonEMRServerlessServiceRolePolicy"],
        false,
        None,
    ),
    (
        "opsdatasync.ssm.amazonaws.com",
        "AWSServiceRoleForSystemsManagerOpsDataSync",
        &["AWSSystemsManagerOpsDataSyncServiceRolePolicy"],
        false,
        None,
    ),
    (
        "opsinsights.ssm.amazonaws.com",
        "AWSServiceRoleForAmazonSSM_OpsInsights",
        &["AWSSSMOpsInsightsServiceRolePolicy"],
        false,
        None,
    ),
    (
        "pullthroughcache.ecr.amazonaws.com",
        "AWSServiceRoleForECRPullThroughCache",
        &["AWSECRPullThroughCache_ServiceRolePolicy"],
        false,
        None,
    ),
    (
        "ram.amazonaws.com",
        "AWSServiceRoleForResourceAccessManager",
        &["AWSResourceAccessManagerServiceRolePolicy"],
        false,
        None,
    ),
    (
        "rds.amazonaws.com",
        "AWSServiceRoleForRDS",
        &["AmazonRDSServiceRolePolicy"],
        false,
        Some("Allows Amazon RDS to manage AWS resources on your behalf"),
    ),
    (
        "redshift.amazonaws.com",
        "AWSServiceRoleForRedshift",
        &["AmazonRedshiftServiceLinkedRolePolicy"],
        false,
        None,
    ),
    (
        "replication.cassandra.amazonaws.com",
        "AWSServiceRoleForKeyspacesReplication",
        &["KeyspacesReplicationServiceRolePolicy"],
        false,
        None,
    ),
    (
        "replication.ecr.amazonaws.com",
        "AWSServiceRoleForECRReplication",
        &["ECRReplicationServiceRolePolicy"],
        false,
        None,
    ),
    (
        "repository.sync.codeconnections.amazonaws.com",
        "AWSServiceRoleForGitSync",
        &["AWSGitSyncServiceRolePolicy"],
        false,
        None,
    ),
    (
        "resource-explorer-2.amazonaws.com",
        "AWSServiceRoleForResourceExplorer",
        &["AWSResourceExplorerServiceRolePolicy"],
        false,
        None,
    ),
    (
        "rolesanywhere.amazonaws.com",
        "AWSServiceRoleForRolesAnywhere",
        &["AWSRolesAnywhereServicePolicy"],
        false,
        None,
    ),
    (
        "s3-outposts.amazonaws.com",
        "AWSServiceRoleForS3OnOutposts",
        &["AWSS3OnOutpostsServiceRolePolicy"],
        false,
        None,
    ),
    (
        "ses.amazonaws.com",
        "AWSServiceRoleForAmazonSES",
        &["AmazonSESServiceRolePolicy"],
        false,
        None,
    ),
    (
        "shield.amazonaws.com",
        "AWSServiceRoleForAWSShield",
        &["AWSShieldServiceRolePolicy"],
        false,
        None,
    ),
    (
        "ssm-incidents.amazonaws.com",
        "AWSServiceRoleForIncidentManager",
        &["AWSIncidentManagerServiceRolePolicy"],
        false,
        None,
    ),
    (
        "ssm-quicksetup.amazonaws.com",
        "AWSServiceRoleForSSMQuickSetup",
        &["SSMQuickSetupRolePolicy"],
        false,
        None,
    ),
    (
        "ssm.amazonaws.com",
        "AWSServiceRoleForAmazonSSM",
        &["AmazonSSMServiceRolePolicy"],
        false,
        Some("Provides access to AWS Resources managed or used by Amazon SSM."),
    ),
    (
        "sso.amazonaws.com",
        "AWSServiceRoleForSSO",
        &["AWSSSOServiceRolePolicy"],
        false,
        Some(
            "Service-linked role used by AWS SSO to manage AWS resources, including IAM roles, policies and SAML IdP on your behalf.",
        ),
    ),
    (
        "vpcorigin.cloudfront.amazonaws.com",
        "AWSServiceRoleForCloudFrontVPCOrigin",
        &["AWSCloudFrontVPCOriginServiceRolePolicy"],
        false,
        None,
    ),
    (
        "waf.amazonaws.com",
        "AWSServiceRoleForWAFLogging",
        &["WAFLoggingServiceRolePolicy"],
        false,
        None,
    ),
    (
        "wafv2.amazonaws.com",
        "AWSServiceRoleForWAFV2Logging",
        &["WAFV2LoggingServiceRolePolicy"],
        false,
        None,
    ),
];

pub async fn handle(
    p: &IamProvider,
    ctx: &RequestContext,
    op: &str,
    i: &Value,
) -> Result<Value, AwsError> {
    match op {
        "CreateServiceLinkedRole" => create(p, ctx, i).await,
        "DeleteServiceLinkedRole" => delete(p, ctx, i).await,
        "GetServiceLinkedRoleDeletionStatus" => {
            let id = i.str("DeletionTaskId").unwrap_or_default();
            let acct = p.account(ctx);
            let c = acct.core.read().unwrap();
            let t = c
                .slr_tasks
                .get(id)
                .ok_or_else(|| no_such(format!("Deletion task {id} cannot be found.")))?;
            Ok(Value::map().with("Status", t.status.as_str()))
        }
        _ => Err(AwsError::not_implemented("iam", op)),
    }
}

/// What a service's linked role looks like: from the table, or, for a service it does
/// not list, AWS's usual pattern (`AWSServiceRoleFor` and the service's name).
fn linked(service: &str) -> (String, Vec<String>, bool, Option<&'static str>) {
    if let Some((_, role, policies, suffix, description)) = SERVICES.iter().find(|s| s.0 == service)
    {
        let arns = policies
            .iter()
            .map(|p| format!("arn:aws:iam::aws:policy/aws-service-role/{p}"))
            .collect();
        return ((*role).to_owned(), arns, *suffix, *description);
    }
    let label = service.split('.').next().unwrap_or(service);
    let camel: String = label
        .split('-')
        .map(|w| {
            let mut cs = w.chars();
            cs.next()
                .map(|f| f.to_uppercase().chain(cs).collect::<String>())
                .unwrap_or_default()
        })
        .collect();
    (format!("AWSServiceRoleFor{camel}"), Vec::new(), true, None)
}

async fn create(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let service = i.str("AWSServiceName").unwrap_or_default();
    if !service.ends_with(".amazonaws.com") {
        return Err(invalid_input(format!("Invalid service name: {service}")));
    }
    let (base, policies, suffix_allowed, description) = linked(service);
    let name = match i.str("CustomSuffix") {
        Some(_) if !suffix_allowed => {
            return Err(invalid_input(format!(
                "Custom suffix is not allowed for {service}"
            )));
        }
        Some(s) => format!("{base}_{s}"),
        None => base,
    };
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
        }],
    })
    .to_string();
    p.write(ctx, |tx| {
        if tx.core.roles.contains_key(&key(&name)) {
            return Err(invalid_input(format!(
                "Service role name {name} has been taken in this account, please try a different suffix."
            )));
        }
        // Service-linked roles are roles of the account: they count.
        crate::util::check_account_quota(
            tx.core.roles.len(),
            crate::util::ROLES_QUOTA,
            "RolesPerAccount",
        )?;
        let r = Role {
            id: new_id("AROA"),
            name: name.clone(),
            path: format!("/aws-service-role/{service}/"),
            created: tx.now,
            trust,
            description: i
                .str("Description")
                .map(str::to_owned)
                .or(description.map(str::to_owned)),
            max_session: crate::roles::DEFAULT_MAX_SESSION,
            boundary: None,
            tags: Vec::new(),
            inline: BTreeMap::new(),
            attached: policies,
            last_used: None,
            linked_service: Some(service.to_owned()),
        };
        let out = Value::map().with("Role", role_value(tx.core, &r, RoleForm::Create));
        tx.touch(Kind::Role, &r.id);
        tx.core.insert_role(r);
        Ok(out)
    })
    .await
}

/// Deletes the role at once (nephos knows of no resource still using it) and records a
/// task that has succeeded.
async fn delete(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let name = i.str("RoleName").unwrap_or_default();
    p.write(ctx, |tx| {
        let r = tx.core.role(name)?;
        let Some(service) = r.linked_service.clone() else {
            return Err(invalid_input(format!(
                "Role {name} is not a service-linked role."
            )));
        };
        let task = format!("task/aws-service-role/{service}/{}/{}", r.name, uuid());
        let r = tx
            .core
            .remove_role(name)
            .ok_or_else(|| crate::state::no_role(name))?;
        tx.touch(Kind::Role, &r.id);
        tx.core.slr_tasks.insert(
            task.clone(),
            SlrTask {
                status: "SUCCEEDED".to_owned(),
            },
        );
        tx.touch(Kind::SlrTask, &task);
        Ok(Value::map().with("DeletionTaskId", task))
    })
    .await
}
