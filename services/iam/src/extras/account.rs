//! Account-wide settings: SetSecurityTokenServicePreferences, whose token version
//! GetAccountSummary reports as `GlobalEndpointTokenVersion`.

use super::{Ctx, handlers};
use nephos_core::{AwsError, Value};
use serde::{Deserialize, Serialize};

pub const KIND: &str = "settings";

pub(super) const HANDLERS: &[(&str, super::Handler)] = handlers! {
    "SetSecurityTokenServicePreferences" => set_sts_preferences,
};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Settings {
    /// `v1Token` or `v2Token`; unset means AWS's default, v1 (global-endpoint tokens
    /// valid only in Regions enabled by default).
    #[serde(default)]
    pub token_version: Option<String>,
}

impl Settings {
    /// The token version as GetAccountSummary counts it (1 or 2).
    pub fn token_version_number(&self) -> i64 {
        if self.token_version.as_deref() == Some("v2Token") {
            2
        } else {
            1
        }
    }
}

async fn set_sts_preferences(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let version = i.str("GlobalEndpointTokenVersion").unwrap_or("v1Token");
    let change = {
        let mut s = c.account.extras.write().unwrap();
        s.settings.token_version = Some(version.to_owned());
        c.put(KIND, "", &s.settings)
    };
    c.commit(vec![change]).await?;
    Ok(Value::map())
}
