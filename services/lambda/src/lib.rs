//! AWS Lambda: functions that really run, as local processes, without Docker.
//!
//! - [`functions`]: the control plane (create, code, configuration, versions, aliases,
//!   tags, concurrency, account settings); [`policy`]: resource policies.
//! - [`invoke`]: RequestResponse, Event and DryRun invocations; [`asyncinv`]: the durable
//!   queue of Event invocations (the event invoke configuration's retries and event age
//!   on nephos's clock, destinations, the dead-letter target).
//! - [`urls`]: function URL configurations; [`url_invoke`]: requests to a function URL
//!   (payload format 2.0 events, AuthType, CORS).
//! - [`runtime`]: warm environments per function version, started within the
//!   concurrency limits; [`env`]: one environment, a process group speaking the Runtime
//!   API on a loopback port of its own (served over HTTP by the binary's
//!   `RuntimeServer`, so this crate never sees HTTP); [`logs`]: each invocation's lines
//!   to CloudWatch Logs; [`sandbox`]: each environment's own sized `/tmp` and read-only
//!   task root (a user and mount namespace, made by the binary re-executed as a launcher).
//! - [`extensions`]: external extensions (AWS's Extensions API on the environment's
//!   loopback port: register, INVOKE and SHUTDOWN events, init and exit errors).
//! - [`durable`]: durable executions (functions with a `DurableConfig`): checkpoints,
//!   waits and retries on nephos's clock, callbacks, history.
//! - [`esm`]: event source mappings (SQS queues, DynamoDB streams) with [`filter`]ing.
//! - [`code`]: deployment packages, checked, stored by hash and unpacked safely.
//!
//! Python and Node.js functions run under nephos's own small bootstraps (in
//! `src/bootstrap/`, written next to the code at start); custom runtimes run the
//! package's `bootstrap`. A function's process sees only the environment AWS gives one.

mod asyncinv;
mod code;
pub mod configs;
mod durable;
mod env;
mod esm;
mod extensions;
mod filter;
mod functions;
mod invoke;
pub mod layers;
mod logs;
pub mod model;
mod policy;
mod runtime;
pub mod sandbox;
mod signing;
mod state;
mod url_invoke;
pub mod urls;

use nephos_core::runtime::RuntimeServer;
use nephos_core::{
    AwsError, BoxFuture, Clock, Dispatcher, Input, Output, Provider, RequestContext, Scoped,
};
use nephos_storage::Storage;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Where interpreters come from and how far functions may scale.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The Python interpreter of python3.x functions (a name on PATH or a path).
    pub python: String,
    /// The Node.js interpreter of nodejs functions.
    pub node: String,
    /// Concurrent executions per account (AWS's default quota is 1,000).
    pub max_concurrency: u32,
    /// Seconds an unused environment is kept warm.
    pub idle_seconds: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            python: "python3".into(),
            node: "node".into(),
            max_concurrency: 1000,
            idle_seconds: 600,
        }
    }
}

pub struct Lambda {
    regions: Scoped<state::Region>,
    storage: Storage,
    clock: Arc<Clock>,
    dispatcher: Dispatcher,
    code: Arc<code::CodeStore>,
    /// This run's own directory (bootstraps, environments' scratch space and, without a
    /// data directory, code), made on first use and removed at shutdown.
    run_dir: PathBuf,
    /// nephos's bootstraps, written on first use.
    runtime_dir: PathBuf,
    bootstraps: OnceLock<Result<(), String>>,
    /// Environments' scratch directories.
    work_dir: PathBuf,
    /// nephos's data directory, hidden from functions.
    data_dir: Option<PathBuf>,
    server: Arc<dyn RuntimeServer>,
    settings: Settings,
    endpoint: OnceLock<String>,
    pool: runtime::Pool,
    mappings: esm::Mappings,
    /// Durable executions.
    durable: durable::Executions,
    /// Interpreters resolved to absolute paths (a function's PATH is not nephos's).
    interpreters: std::sync::Mutex<std::collections::HashMap<String, PathBuf>>,
}

/// The role session name of a function's environments: its name, which a one-character
/// name (shorter than a session name may be) extends with `@lambda_function`, as AWS does.
fn session_name(function: &str) -> String {
    if function.chars().count() < 2 {
        format!("{function}@lambda_function")
    } else {
        function.to_owned()
    }
}

/// Access key id, secret, session token.
type Credentials = (String, String, Option<String>);

fn role_not_assumable() -> AwsError {
    AwsError::new(
        400,
        "InvalidParameterValueException",
        "The role defined for the function cannot be assumed by Lambda.",
    )
}

pub struct LambdaProvider {
    inner: Arc<Lambda>,
}

const OPERATIONS: &[&str] = &[
    "AddLayerVersionPermission",
    "AddPermission",
    "CheckpointDurableExecution",
    "CreateAlias",
    "CreateCodeSigningConfig",
    "CreateEventSourceMapping",
    "CreateFunction",
    "CreateFunctionUrlConfig",
    "DeleteAlias",
    "DeleteCodeSigningConfig",
    "DeleteDurableExecution",
    "DeleteEventSourceMapping",
    "DeleteFunction",
    "DeleteFunctionCodeSigningConfig",
    "DeleteFunctionConcurrency",
    "DeleteFunctionEventInvokeConfig",
    "DeleteFunctionUrlConfig",
    "DeleteLayerVersion",
    "DeleteProvisionedConcurrencyConfig",
    "GetAccountSettings",
    "GetAlias",
    "GetCodeSigningConfig",
    "GetDurableExecution",
    "GetDurableExecutionHistory",
    "GetDurableExecutionState",
    "GetEventSourceMapping",
    "GetFunction",
    "GetFunctionCodeSigningConfig",
    "GetFunctionConcurrency",
    "GetFunctionConfiguration",
    "GetFunctionEventInvokeConfig",
    "GetFunctionRecursionConfig",
    "GetFunctionUrlConfig",
    "GetLayerVersion",
    "GetLayerVersionByArn",
    "GetLayerVersionPolicy",
    "GetPolicy",
    "GetProvisionedConcurrencyConfig",
    "GetRuntimeManagementConfig",
    "Invoke",
    "InvokeAsync",
    "InvokeWithResponseStream",
    "ListAliases",
    "ListCodeSigningConfigs",
    "ListDurableExecutionsByFunction",
    "ListEventSourceMappings",
    "ListFunctionEventInvokeConfigs",
    "ListFunctionUrlConfigs",
    "ListFunctions",
    "ListFunctionsByCodeSigningConfig",
    "ListLayerVersions",
    "ListLayers",
    "ListProvisionedConcurrencyConfigs",
    "ListTags",
    "ListVersionsByFunction",
    "PauseDurableExecution",
    "PublishLayerVersion",
    "PublishVersion",
    "PutFunctionCodeSigningConfig",
    "PutFunctionConcurrency",
    "PutFunctionEventInvokeConfig",
    "PutFunctionRecursionConfig",
    "PutProvisionedConcurrencyConfig",
    "PutRuntimeManagementConfig",
    "RemoveLayerVersionPermission",
    "RemovePermission",
    "ResumeDurableExecution",
    "SendDurableExecutionCallbackFailure",
    "SendDurableExecutionCallbackHeartbeat",
    "SendDurableExecutionCallbackSuccess",
    "StopDurableExecution",
    "TagResource",
    "UntagResource",
    "UpdateAlias",
    "UpdateCodeSigningConfig",
    "UpdateEventSourceMapping",
    "UpdateFunctionCode",
    "UpdateFunctionConfiguration",
    "UpdateFunctionEventInvokeConfig",
    "UpdateFunctionUrlConfig",
];

impl LambdaProvider {
    /// Opens the provider: functions stored before a restart come back, and accepted
    /// asynchronous invocations resume once the dispatcher is wired.
    pub fn new(
        storage: Storage,
        data_dir: Option<&Path>,
        clock: Arc<Clock>,
        dispatcher: Dispatcher,
        server: Arc<dyn RuntimeServer>,
        settings: Settings,
    ) -> Result<LambdaProvider, String> {
        let run_dir = std::env::temp_dir().join(format!(
            "{RUN_DIR_PREFIX}{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let code_dir = match data_dir {
            Some(d) => d.join("lambda").join("code"),
            None => run_dir.join("code"),
        };
        let code = code::CodeStore::new(code_dir).map_err(|e| format!("lambda code dir: {e}"))?;
        let runtime_dir = run_dir.join("runtime");
        let work_dir = run_dir.join("envs");
        let regions = Scoped::regional();
        state::load(&storage, &regions)?;
        let inner = Arc::new(Lambda {
            regions,
            storage,
            clock,
            dispatcher,
            code: Arc::new(code),
            run_dir,
            runtime_dir,
            bootstraps: OnceLock::new(),
            work_dir,
            data_dir: data_dir.map(Path::to_path_buf),
            server,
            settings,
            endpoint: OnceLock::new(),
            pool: runtime::Pool::default(),
            mappings: esm::Mappings::default(),
            durable: durable::Executions::default(),
            interpreters: Default::default(),
        });
        Ok(LambdaProvider { inner })
    }

    /// The URL functions reach nephos at (`AWS_ENDPOINT_URL`).
    pub fn set_endpoint(&self, endpoint: &str) {
        let _ = self.inner.endpoint.set(endpoint.to_owned());
    }

    /// Starts what runs in the background: the bootstraps on disk, the reaper of idle
    /// environments, and asynchronous invocations accepted before a restart. Needs a
    /// Tokio runtime.
    pub fn start(&self) -> Result<(), String> {
        let l = &self.inner;
        // Directories of earlier runs that were killed before they could clean up.
        tokio::task::spawn_blocking(sweep_stale_run_dirs);
        let weak = Arc::downgrade(l);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(10)).await;
                let Some(l) = weak.upgrade() else { return };
                l.pool
                    .reap(std::time::Duration::from_secs(l.settings.idle_seconds));
            }
        });
        esm::resume(l)?;
        durable::resume(l)?;
        let queued = l.storage.load(invoke::ASYNC).map_err(|e| e.to_string())?;
        let l = l.clone();
        tokio::spawn(async move {
            while !l.dispatcher.is_wired() {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            for (_, v) in queued {
                if let Ok(q) = serde_json::from_slice::<invoke::Queued>(&v) {
                    tokio::spawn(invoke::run_async(l.clone(), q));
                }
            }
        });
        Ok(())
    }

    /// Ends every environment (on shutdown: no runtime outlives nephos) and removes this
    /// run's directories.
    pub fn shutdown(&self) {
        self.inner.pool.clear();
        self.inner.mappings.clear();
        env::dismiss_watchdog();
        let _ = std::fs::remove_dir_all(&self.inner.run_dir);
    }
}

const RUN_DIR_PREFIX: &str = "nephos-lambda-";

/// Removes the run directories of nephos processes that no longer exist.
fn sweep_stale_run_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(RUN_DIR_PREFIX)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

impl Lambda {
    /// Writes nephos's bootstraps (once) before the first environment starts.
    fn bootstraps(&self) -> Result<(), AwsError> {
        self.bootstraps
            .get_or_init(|| {
                std::fs::create_dir_all(&self.runtime_dir).map_err(|e| e.to_string())?;
                std::fs::create_dir_all(&self.work_dir).map_err(|e| e.to_string())?;
                std::fs::write(
                    self.runtime_dir.join("python.py"),
                    include_str!("bootstrap/python.py"),
                )
                .map_err(|e| e.to_string())?;
                std::fs::write(
                    self.runtime_dir.join("node.mjs"),
                    include_str!("bootstrap/node.mjs"),
                )
                .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(|e| AwsError::internal(format!("the Lambda runtime directory: {e}")))
    }

    fn endpoint(&self) -> String {
        self.endpoint
            .get()
            .cloned()
            .unwrap_or_else(|| "http://localhost:4566".into())
    }

    /// A function finishes creating or updating: AWS reports `Pending`/`InProgress`
    /// first, and the package is unpacked before it becomes `Active`/`Successful`.
    fn settle(self: &Arc<Self>, ctx: &RequestContext, name: &str) {
        let l = self.clone();
        let region = self.regions.get(ctx);
        let name = name.to_owned();
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let key = {
                let fns = region.functions.lock().unwrap();
                fns.get(&name).map(|f| f.latest.code_sha256.clone())
            };
            if let Some(sha) = key {
                let hexkey = hex::encode(
                    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &sha)
                        .unwrap_or_default(),
                );
                let code = l.code.clone();
                let _ = tokio::task::spawn_blocking(move || code.unpacked(&hexkey)).await;
            }
            let record = {
                let mut fns = region.functions.lock().unwrap();
                let Some(f) = fns.get_mut(&name) else { return };
                // Settling is a change of its own: AWS gives it a new revision id.
                for c in std::iter::once(&mut f.latest).chain(f.versions.values_mut()) {
                    if c.state != "Active" || c.last_update_status != "Successful" {
                        c.state = "Active".into();
                        c.last_update_status = "Successful".into();
                        c.revision_id = model::revision_id();
                    }
                }
                state::put(&ctx, f)
            };
            if let Ok(record) = record {
                let _ = l.storage.commit(vec![record]).await;
            }
        });
    }

    fn retire(&self, ctx: &RequestContext, name: &str) {
        self.pool.retire(&ctx.account_id, &ctx.region, name);
    }

    /// Whether an environment's version is still what the function runs.
    fn current_revision(&self, key: &runtime::EnvKey) -> bool {
        let region = self.regions.get_for(&key.account, &key.region);
        let fns = region.functions.lock().unwrap();
        fns.get(&key.function)
            .and_then(|f| f.resolve(Some(&key.version)))
            .is_some_and(|(_, c)| c.revision_id == key.revision)
    }

    fn interpreter(&self, kind: model::RuntimeKind) -> Result<PathBuf, AwsError> {
        let (configured, flag, probe) = match kind {
            model::RuntimeKind::Python => (
                &self.settings.python,
                "--lambda-python",
                "import sys; print(sys.executable)",
            ),
            _ => (
                &self.settings.node,
                "--lambda-node",
                "console.log(process.execPath)",
            ),
        };
        if let Some(p) = self.interpreters.lock().unwrap().get(configured) {
            return Ok(p.clone());
        }
        let flag_arg = if kind == model::RuntimeKind::Python {
            "-c"
        } else {
            "-e"
        };
        let out = std::process::Command::new(configured)
            .args([flag_arg, probe])
            .output();
        match out {
            Ok(o) if o.status.success() => {
                let path = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
                self.interpreters
                    .lock()
                    .unwrap()
                    .insert(configured.clone(), path.clone());
                Ok(path)
            }
            _ => Err(AwsError::new(
                502,
                "ServiceException",
                format!(
                    "nephos cannot run this runtime: the interpreter '{configured}' was not found or does not start (choose one with {flag})"
                ),
            )),
        }
    }

    /// Credentials for the function's environment: a session of its execution role from
    /// nephos's STS (12 hours, reused for 11). Without `--enforce-iam` a role STS does not
    /// give (a placeholder role that does not exist) falls back to the account itself (an
    /// access key id that is the account number), as code written for other emulators
    /// expects; with it, the function cannot run, as on AWS.
    async fn credentials(&self, t: &runtime::Target) -> Result<Credentials, AwsError> {
        // Every environment has a session of its own, as on AWS.
        match self
            .assume(
                &t.key.account,
                &t.key.region,
                &t.key.function,
                &t.config.role,
            )
            .await
        {
            Some(c) => Ok(c),
            None if nephos_policy::enforces_iam() => Err(role_not_assumable()),
            None => Ok((t.key.account.clone(), "test".into(), None)),
        }
    }

    /// A session of `role` that Lambda assumes for `function`, as its service principal
    /// (the role's trust policy must allow `lambda.amazonaws.com` under --enforce-iam).
    async fn assume(
        &self,
        account: &str,
        region: &str,
        function: &str,
        role: &str,
    ) -> Option<Credentials> {
        let mut ctx = runtime::service_context(self, account, region, "AssumeRole");
        ctx.caller_arn = nephos_policy::service_caller(
            "lambda.amazonaws.com",
            &model::function_arn(region, account, function),
        );
        let input = nephos_core::Value::map()
            .with("RoleArn", role)
            .with("RoleSessionName", session_name(function))
            .with("DurationSeconds", 43_200i64);
        match self.dispatcher.call(&ctx, "sts", "AssumeRole", input).await {
            Ok(v) => runtime::credentials_from(&v),
            Err(_) => None,
        }
    }

    /// A queue's URL at nephos, from its ARN.
    pub(crate) fn queue_url(&self, arn: &str) -> String {
        let mut parts = arn.split(':');
        let account = parts.nth(4).unwrap_or_default();
        let name = parts.next().unwrap_or_default();
        format!("{}/{account}/{name}", self.endpoint())
    }

    /// Sends `body` (with message `attributes`, if any) to an SQS queue or SNS topic ARN,
    /// in the target's region, as `account`: how records and failed events leave Lambda
    /// (destinations, dead-letter targets, mappings' on-failure destinations).
    pub(crate) async fn send_to(
        &self,
        account: &str,
        arn: &str,
        body: &str,
        attributes: Option<nephos_core::Value>,
    ) -> Result<(), AwsError> {
        let region = arn.split(':').nth(3).unwrap_or_default();
        let (service, operation, mut input) = if arn.starts_with("arn:aws:sqs:") {
            let input = nephos_core::Value::map()
                .with("QueueUrl", self.queue_url(arn))
                .with("MessageBody", body);
            ("sqs", "SendMessage", input)
        } else {
            let input = nephos_core::Value::map()
                .with("TopicArn", arn)
                .with("Message", body);
            ("sns", "Publish", input)
        };
        if let Some(a) = attributes {
            input.insert("MessageAttributes", a);
        }
        let ctx = runtime::service_context(self, account, region, operation);
        self.dispatcher
            .call(&ctx, service, operation, input)
            .await
            .map(|_| ())
    }

    /// Under --enforce-iam, CreateFunction and UpdateFunctionConfiguration refuse a role
    /// Lambda cannot assume, as AWS does.
    pub(crate) async fn check_role_assumable(
        &self,
        ctx: &RequestContext,
        function: &str,
        role: &str,
    ) -> Result<(), AwsError> {
        if !nephos_policy::enforces_iam() {
            return Ok(());
        }
        match self
            .assume(&ctx.account_id, &ctx.region, function, role)
            .await
        {
            Some(_) => Ok(()),
            None => Err(role_not_assumable()),
        }
    }
}

impl Provider for LambdaProvider {
    fn service(&self) -> &'static str {
        "lambda"
    }

    fn resource_facts(&self, _ctx: &RequestContext, arn: &str) -> nephos_core::ResourceFacts {
        // arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
        let parts: Vec<&str> = arn.split(':').collect();
        let (Some(region), Some(account), Some(&"function"), Some(name)) =
            (parts.get(3), parts.get(4), parts.get(5), parts.get(6))
        else {
            return nephos_core::ResourceFacts::default();
        };
        let region = self.inner.regions.get_for(account, region);
        let functions = region.functions.lock().unwrap();
        let Some(f) = functions.get(*name) else {
            return nephos_core::ResourceFacts::default();
        };
        let mut statements: Vec<&serde_json::Value> =
            f.policies.get("").into_iter().flatten().collect();
        if let Some(q) = parts.get(7) {
            statements.extend(f.policies.get(*q).into_iter().flatten());
        }
        nephos_core::ResourceFacts {
            owner: Some((*account).to_owned()),
            policy: (!statements.is_empty()).then(|| {
                serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string()
            }),
            tags: f.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            ..Default::default()
        }
    }

    fn operations(&self) -> &'static [&'static str] {
        OPERATIONS
    }

    fn handle<'a>(
        &'a self,
        ctx: &'a RequestContext,
        input: Input,
    ) -> BoxFuture<'a, Result<Output, AwsError>> {
        Box::pin(async move {
            let l = &self.inner;
            let result: Result<Output, AwsError> = async move {
                let i = &input.value;
                // Another account's function, named by ARN, when its policy lets us in.
                let acting = policy::acting_context(l, ctx, i);
                let ctx = acting.as_ref().unwrap_or(ctx);
                let value = match ctx.operation.as_str() {
                    "Invoke" => return invoke::invoke(l, ctx, i).await,
                    "InvokeWithResponseStream" => {
                        return invoke::invoke_with_response_stream(l, ctx, i).await;
                    }
                    "CreateEventSourceMapping" => {
                        return Ok(Output {
                            status: Some(202),
                            ..Output::new(esm::create(l, ctx, i).await?)
                        });
                    }
                    "GetEventSourceMapping" => esm::get(l, ctx, i)?,
                    "UpdateEventSourceMapping" => esm::update(l, ctx, i).await?,
                    "DeleteEventSourceMapping" => esm::delete(l, ctx, i).await?,
                    "ListEventSourceMappings" => esm::list(l, ctx, i)?,
                    "CreateFunction" => functions::create_function(l, ctx, i).await?,
                    "GetFunction" => functions::get_function(l, ctx, i)?,
                    "GetFunctionConfiguration" => functions::get_function_configuration(l, ctx, i)?,
                    "ListFunctions" => functions::list_functions(l, ctx, i)?,
                    "DeleteFunction" => functions::delete_function(l, ctx, i).await?,
                    "UpdateFunctionCode" => functions::update_function_code(l, ctx, i).await?,
                    "UpdateFunctionConfiguration" => {
                        functions::update_function_configuration(l, ctx, i).await?
                    }
                    "PublishVersion" => functions::publish_version(l, ctx, i).await?,
                    "ListVersionsByFunction" => functions::list_versions(l, ctx, i)?,
                    "CreateAlias" => functions::create_alias(l, ctx, i).await?,
                    "GetAlias" => functions::get_alias(l, ctx, i)?,
                    "UpdateAlias" => functions::update_alias(l, ctx, i).await?,
                    "DeleteAlias" => functions::delete_alias(l, ctx, i).await?,
                    "ListAliases" => functions::list_aliases(l, ctx, i)?,
                    "TagResource" => functions::tag_resource(l, ctx, i).await?,
                    "UntagResource" => functions::untag_resource(l, ctx, i).await?,
                    "ListTags" => functions::list_tags(l, ctx, i)?,
                    "PutFunctionConcurrency" => {
                        functions::put_function_concurrency(l, ctx, i).await?
                    }
                    "GetFunctionConcurrency" => functions::get_function_concurrency(l, ctx, i)?,
                    "DeleteFunctionConcurrency" => {
                        functions::delete_function_concurrency(l, ctx, i).await?
                    }
                    "GetAccountSettings" => functions::get_account_settings(l, ctx),
                    "AddPermission" => policy::add_permission(l, ctx, i).await?,
                    "RemovePermission" => policy::remove_permission(l, ctx, i).await?,
                    "GetPolicy" => policy::get_policy(l, ctx, i)?,
                    "PublishLayerVersion" => layers::publish_layer_version(l, ctx, i).await?,
                    "GetLayerVersion" => layers::get_layer_version(l, ctx, i)?,
                    "GetLayerVersionByArn" => layers::get_layer_version_by_arn(l, ctx, i)?,
                    "ListLayers" => layers::list_layers(l, ctx, i)?,
                    "ListLayerVersions" => layers::list_layer_versions(l, ctx, i)?,
                    "DeleteLayerVersion" => layers::delete_layer_version(l, ctx, i).await?,
                    "AddLayerVersionPermission" => {
                        layers::add_layer_version_permission(l, ctx, i).await?
                    }
                    "RemoveLayerVersionPermission" => {
                        layers::remove_layer_version_permission(l, ctx, i).await?
                    }
                    "GetLayerVersionPolicy" => layers::get_layer_version_policy(l, ctx, i)?,
                    "PutFunctionEventInvokeConfig" => {
                        configs::put_event_invoke_config(l, ctx, i).await?
                    }
                    "UpdateFunctionEventInvokeConfig" => {
                        configs::update_event_invoke_config(l, ctx, i).await?
                    }
                    "GetFunctionEventInvokeConfig" => configs::get_event_invoke_config(l, ctx, i)?,
                    "DeleteFunctionEventInvokeConfig" => {
                        configs::delete_event_invoke_config(l, ctx, i).await?
                    }
                    "ListFunctionEventInvokeConfigs" => {
                        configs::list_event_invoke_configs(l, ctx, i)?
                    }
                    "PutProvisionedConcurrencyConfig" => {
                        let out = configs::put_provisioned_concurrency(l, ctx, i).await?;
                        configs::provision(l, ctx, i);
                        out
                    }
                    "GetProvisionedConcurrencyConfig" => {
                        configs::get_provisioned_concurrency(l, ctx, i)?
                    }
                    "DeleteProvisionedConcurrencyConfig" => {
                        let out = configs::delete_provisioned_concurrency(l, ctx, i).await?;
                        if let Ok((name, _)) = functions::target(ctx, i) {
                            l.pool.unprovision(&ctx.account_id, &ctx.region, &name);
                        }
                        out
                    }
                    "ListProvisionedConcurrencyConfigs" => {
                        configs::list_provisioned_concurrency(l, ctx, i)?
                    }
                    "GetFunctionRecursionConfig" => configs::get_recursion_config(l, ctx, i)?,
                    "PutFunctionRecursionConfig" => {
                        configs::put_recursion_config(l, ctx, i).await?
                    }
                    "GetRuntimeManagementConfig" => {
                        configs::get_runtime_management_config(l, ctx, i)?
                    }
                    "PutRuntimeManagementConfig" => {
                        configs::put_runtime_management_config(l, ctx, i).await?
                    }
                    "PutFunctionCodeSigningConfig" => {
                        configs::put_function_code_signing_config(l, ctx, i).await?
                    }
                    "GetFunctionCodeSigningConfig" => {
                        configs::get_function_code_signing_config(l, ctx, i)?
                    }
                    "DeleteFunctionCodeSigningConfig" => {
                        configs::delete_function_code_signing_config(l, ctx, i).await?
                    }
                    "CreateCodeSigningConfig" => signing::create(l, ctx, i).await?,
                    "GetCodeSigningConfig" => signing::get(l, ctx, i)?,
                    "UpdateCodeSigningConfig" => signing::update(l, ctx, i).await?,
                    "DeleteCodeSigningConfig" => signing::delete(l, ctx, i).await?,
                    "ListCodeSigningConfigs" => signing::list(l, ctx, i)?,
                    "ListFunctionsByCodeSigningConfig" => signing::list_functions(l, ctx, i)?,
                    "CreateFunctionUrlConfig" => urls::create(l, ctx, i).await?,
                    "GetFunctionUrlConfig" => urls::get(l, ctx, i)?,
                    "UpdateFunctionUrlConfig" => urls::update(l, ctx, i).await?,
                    "DeleteFunctionUrlConfig" => urls::delete(l, ctx, i).await?,
                    "ListFunctionUrlConfigs" => urls::list(l, ctx, i)?,
                    "InvokeAsync" => functions::invoke_async(l, ctx, input).await?,
                    "CheckpointDurableExecution" => durable::checkpoint(l, ctx, i).await?,
                    "GetDurableExecution" => durable::get(l, ctx, i)?,
                    "GetDurableExecutionHistory" => durable::history(l, ctx, i)?,
                    "GetDurableExecutionState" => durable::get_state(l, ctx, i)?,
                    "ListDurableExecutionsByFunction" => durable::list(l, ctx, i)?,
                    "StopDurableExecution" => durable::stop(l, ctx, i).await?,
                    "PauseDurableExecution"
                    | "ResumeDurableExecution"
                    | "DeleteDurableExecution" => {
                        let value = match ctx.operation.as_str() {
                            "PauseDurableExecution" => durable::pause(l, ctx, i).await?,
                            "ResumeDurableExecution" => {
                                durable::resume_execution(l, ctx, i).await?
                            }
                            _ => durable::delete(l, ctx, i).await?,
                        };
                        return Ok(Output {
                            status: Some(202),
                            ..Output::new(value)
                        });
                    }
                    "SendDurableExecutionCallbackSuccess"
                    | "SendDurableExecutionCallbackFailure"
                    | "SendDurableExecutionCallbackHeartbeat" => {
                        durable::send_callback(l, ctx, i).await?
                    }
                    other => return Err(AwsError::not_implemented("lambda", other)),
                };
                Ok(Output::new(value))
            }
            .await;
            result.map_err(functions::typed)
        })
    }

    /// A request to a function URL (the gateway names it `InvokeFunctionUrl`).
    fn handle_raw<'a>(
        &'a self,
        ctx: &'a RequestContext,
        request: nephos_core::RawRequest,
    ) -> BoxFuture<'a, Result<nephos_core::RawResponse, AwsError>> {
        Box::pin(async move {
            if ctx.operation != "InvokeFunctionUrl" {
                return Err(AwsError::not_implemented("lambda", &ctx.operation));
            }
            Ok(url_invoke::serve(&self.inner, ctx, request).await)
        })
    }

    fn reset(&self) {
        self.inner.mappings.clear();
        self.inner.pool.clear();
        self.inner.durable.clear();
        self.inner.regions.clear();
    }

    fn internal(&self, method: &str, path: &str, _body: &[u8]) -> Option<(u16, String, Vec<u8>)> {
        // GetFunction's Code.Location: the package, downloadable as from AWS's S3 URL.
        let key = path.strip_prefix("code/")?.strip_suffix(".zip")?;
        if method != "GET" || key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        match self.inner.code.read(key) {
            Ok(zip) => Some((200, "application/zip".into(), zip)),
            Err(_) => Some((404, "text/plain".into(), b"no such code package".to_vec())),
        }
    }
}
