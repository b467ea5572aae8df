//! The credential report: GenerateCredentialReport takes a snapshot of every user's
//! password, MFA, access key and signing certificate facts (AWS's columns, the root
//! account's row first); GetCredentialReport returns it as CSV for four hours.

use super::{Ctx, handlers, ts};
use nephos_core::{AwsError, Timestamp, Value};
use serde::{Deserialize, Serialize};

pub const KIND: &str = "report";

pub(super) const HANDLERS: &[(&str, super::Handler)] = handlers! {
    "GenerateCredentialReport" => generate,
    "GetCredentialReport" => get,
};

/// A report this old is expired; a younger one is returned instead of generating anew.
const LIFETIME_MS: i64 = 4 * 3600 * 1000;

const COLUMNS: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub generated: i64,
    pub csv: String,
}

/// A report time: ISO 8601 with AWS's `+00:00` offset.
fn time(ms: i64) -> String {
    let iso = Timestamp::from_millis(ms - ms % 1000).to_iso8601();
    format!("{}+00:00", iso.trim_end_matches('Z'))
}

fn build(c: &Ctx<'_>, now: i64) -> String {
    let rows = c.account.core.read().unwrap().report_rows();
    let s = c.account.extras.read().unwrap();
    let na = || "N/A".to_owned();
    // The root user has no creation record here; its row takes the oldest date known.
    let root_created = rows.iter().map(|r| r.created).min().unwrap_or(now).min(now);
    let mut out = format!("{COLUMNS}\n");
    out.push_str(&format!(
        "<root_account>,arn:aws:iam::{}:root,{},not_supported,no_information,not_supported,not_supported,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n",
        c.account_id(),
        time(root_created)
    ));
    for row in rows {
        let login = s.logins.get(&row.name);
        let password_last_used = match (login, row.password_last_used) {
            (None, _) => na(),
            (Some(_), Some(t)) => time(t),
            (Some(_), None) => "no_information".to_owned(),
        };
        let next_rotation = match (login, s.password_policy.as_ref().and_then(|p| p.max_age)) {
            (Some(l), Some(days)) if days > 0 => time(l.password_changed + days * 86_400_000),
            _ => na(),
        };
        let mfa = s
            .mfa
            .values()
            .any(|d| d.user.as_deref() == Some(row.name.as_str()));
        let mut fields = vec![
            row.name.clone(),
            row.arn.clone(),
            time(row.created),
            login.is_some().to_string(),
            password_last_used,
            login.map_or_else(na, |l| time(l.password_changed)),
            next_rotation,
            mfa.to_string(),
        ];
        for k in 0..2 {
            match row.keys.get(k) {
                Some(key) => fields.extend([
                    key.active.to_string(),
                    time(key.last_rotated),
                    key.last_used.map_or_else(na, time),
                    key.last_used_region.clone().unwrap_or_else(na),
                    key.last_used_service.clone().unwrap_or_else(na),
                ]),
                None => fields.extend(["false".to_owned(), na(), na(), na(), na()]),
            }
        }
        let mut certs: Vec<_> = s
            .signing_certs
            .values()
            .filter(|cert| cert.user == row.name)
            .collect();
        certs.sort_by_key(|cert| cert.uploaded);
        for k in 0..2 {
            match certs.get(k) {
                Some(cert) => fields.extend([cert.active.to_string(), time(cert.uploaded)]),
                None => fields.extend(["false".to_owned(), na()]),
            }
        }
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

async fn generate(c: &Ctx<'_>, _i: &Value) -> Result<Value, AwsError> {
    let now = c.now();
    let fresh = c
        .account
        .extras
        .read()
        .unwrap()
        .report
        .as_ref()
        .is_some_and(|r| now - r.generated < LIFETIME_MS);
    if fresh {
        return Ok(Value::map().with("State", "COMPLETE"));
    }
    let report = Report {
        generated: now,
        csv: build(c, now),
    };
    let change = c.put(KIND, "", &report);
    c.account.extras.write().unwrap().report = Some(report);
    c.commit(vec![change]).await?;
    Ok(Value::map().with("State", "STARTED").with(
        "Description",
        "No report exists. Starting a new report generation task",
    ))
}

async fn get(c: &Ctx<'_>, _i: &Value) -> Result<Value, AwsError> {
    let s = c.account.extras.read().unwrap();
    let Some(r) = &s.report else {
        return Err(AwsError::new(
            410,
            "ReportNotPresent",
            "The request was rejected because the credential report does not exist. To generate a credential report, use GenerateCredentialReport.",
        ));
    };
    if c.now() - r.generated >= LIFETIME_MS {
        return Err(AwsError::new(
            410,
            "ReportExpired",
            "The request was rejected because the most recent credential report has expired. To generate a new credential report, use GenerateCredentialReport.",
        ));
    }
    Ok(Value::map()
        .with("Content", Value::Blob(r.csv.clone().into_bytes().into()))
        .with("ReportFormat", "text/csv")
        .with("GeneratedTime", ts(r.generated)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn report_times_use_an_offset() {
        assert_eq!(super::time(1_398_796_238_123), "2014-04-29T18:30:38+00:00");
    }
}
