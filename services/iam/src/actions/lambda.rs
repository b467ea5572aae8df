//! Lambda: functions named by name, partial ARN or full ARN (with a qualifier), layers,
//! event source mappings and code signing configurations; `Invoke` is
//! `lambda:InvokeFunction`.

use super::{Cx, Plan};
use nephos_core::Value;

/// A function as the request names it: `my-function`, `my-function:v1`,
/// `123456789012:function:my-function`, or
/// `arn:aws:lambda:us-west-2:123456789012:function:my-function[:qualifier]`; a
/// `Qualifier` member wins over one in the name.
pub(crate) struct Function {
    pub name: String,
    pub account: String,
    pub region: String,
    pub qualifier: Option<String>,
}

impl Function {
    pub fn parse(raw: &str, qualifier: Option<&str>, cx: &Cx) -> Function {
        let parts: Vec<&str> = raw.split(':').collect();
        let (name, account, region, q) = match parts.as_slice() {
            [
                "arn",
                _,
                "lambda",
                region,
                account,
                "function",
                name,
                rest @ ..,
            ] => (*name, *account, *region, rest.first().copied()),
            [account, "function", name, rest @ ..] => {
                (*name, *account, cx.region, rest.first().copied())
            }
            [name, q] => (*name, cx.account, cx.region, Some(*q)),
            _ => (raw, cx.account, cx.region, None),
        };
        Function {
            name: name.to_owned(),
            account: account.to_owned(),
            region: region.to_owned(),
            qualifier: qualifier.or(q).map(str::to_owned),
        }
    }

    /// The function's ARN, qualified when the request names a version or alias (AWS
    /// authorizes a qualified call against the qualified ARN).
    pub fn arn(&self) -> String {
        let base = format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region, self.account, self.name
        );
        match &self.qualifier {
            Some(q) => format!("{base}:{q}"),
            None => base,
        }
    }
}

/// A layer named by name or ARN (`arn:aws:lambda:r:a:layer:name[:version]`).
fn layer(plan: Plan, raw: Option<&str>, version: Option<String>) -> Plan {
    let Some(raw) = raw else {
        return plan;
    };
    let plan = plan.var_opt("LayerVersion", version);
    match raw.split(':').collect::<Vec<_>>().as_slice() {
        [
            "arn",
            _,
            "lambda",
            region,
            account,
            "layer",
            name,
            rest @ ..,
        ] => {
            let plan = plan
                .var("LayerName", *name)
                .var("Region", *region)
                .var("Account", *account);
            match rest.first() {
                Some(v) => plan.var("LayerVersion", *v),
                None => plan,
            }
        }
        _ => plan.var("LayerName", raw),
    }
}

pub(super) fn plans(op: &str, cx: &Cx) -> Vec<Plan> {
    let i = cx.input;
    let action = match op {
        "Invoke" | "InvokeWithResponseStream" => "InvokeFunction",
        "GetLayerVersionByArn" => "GetLayerVersion",
        // Older model versions named some operations with their API date
        // (`ListFunctions20150331`); the action is the name without it.
        other => strip_date(other),
    };
    let mut plan = cx.plan(action);
    let function = i
        .str("FunctionName")
        .map(|f| Function::parse(f, i.str("Qualifier"), cx));

    if let Some(f) = &function {
        // Whichever of the function's resource types the action takes, the resource is
        // the function as named, qualified or not.
        for kind in ["function", "function alias", "function version"] {
            plan = plan.typed(kind, f.arn());
        }
        plan = plan.key1("lambda:FunctionArn", Some(f.arn()));
    }
    plan = plan
        .var_opt("UUID", i.str("UUID"))
        .arn(i.str("Resource"))
        .arn(i.str("CodeSigningConfigArn"))
        .arn(i.str("ResourceArn"))
        .key1("lambda:Principal", i.str("Principal"))
        .key1(
            "lambda:FunctionUrlAuthType",
            i.str("FunctionUrlAuthType").or_else(|| i.str("AuthType")),
        )
        .key1("lambda:CodeSigningConfigArn", i.str("CodeSigningConfigArn"))
        .key1("lambda:EventSourceToken", i.str("EventSourceToken"));
    if op == "GetLayerVersionByArn" {
        plan = layer(plan, i.str("Arn"), None);
    } else {
        let version = super::text(i.get("VersionNumber"));
        plan = layer(plan, i.str("LayerName"), version);
    }
    if let Some(layers) = i.get("Layers").and_then(Value::as_list) {
        let arns = layers
            .iter()
            .filter_map(|l| l.as_str().map(str::to_owned))
            .collect();
        plan = plan.key("lambda:Layer", arns);
    }
    if let Some(vpc) = i.get("VpcConfig") {
        for (key, member) in [
            ("lambda:SubnetIds", "SubnetIds"),
            ("lambda:SecurityGroupIds", "SecurityGroupIds"),
        ] {
            let ids = vpc
                .get(member)
                .and_then(Value::as_list)
                .unwrap_or_default()
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            plan = plan.key(key, ids);
        }
    }
    vec![plan]
}

/// `ListFunctions20150331` -> `ListFunctions`, `GetPolicy20150331v2` -> `GetPolicy`.
fn strip_date(op: &str) -> &str {
    let Some(pos) = op.find("20") else {
        return op;
    };
    let (head, tail) = op.split_at(pos);
    let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
    let rest = &tail[digits..];
    let versioned =
        rest.is_empty() || (rest.starts_with('v') && rest[1..].bytes().all(|b| b.is_ascii_digit()));
    if digits == 8 && versioned && !head.is_empty() {
        head
    } else {
        op
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dated_operation_names_lose_their_date() {
        assert_eq!(strip_date("ListFunctions20150331"), "ListFunctions");
        assert_eq!(strip_date("GetPolicy20150331v2"), "GetPolicy");
        assert_eq!(strip_date("Invoke"), "Invoke");
        assert_eq!(strip_date("Foo2015"), "Foo2015");
    }
}
