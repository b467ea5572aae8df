//! Virtual MFA devices: create (seed and QR code), enable for a user with two
//! consecutive TOTP codes, resync, deactivate, delete, list, tags. Codes are checked
//! against nephos's clock, so advancing it moves the device's time too.

use super::{
    Ctx, Tags, check_path, delete_conflict, handlers, limit_exceeded, no_such_entity, page,
    path_name, ts,
};
use nephos_core::{AwsError, Value};
use serde::{Deserialize, Serialize};

use super::totp;

pub const KIND: &str = "mfa";

pub(super) const HANDLERS: &[(&str, super::Handler)] = handlers! {
    "CreateVirtualMFADevice" => create,
    "DeleteVirtualMFADevice" => delete,
    "ListVirtualMFADevices" => list_virtual,
    "EnableMFADevice" => enable,
    "DeactivateMFADevice" => deactivate,
    "ResyncMFADevice" => resync,
    "ListMFADevices" => list,
    "GetMFADevice" => get,
    "TagMFADevice" => tag,
    "UntagMFADevice" => untag,
    "ListMFADeviceTags" => list_tags,
};

/// AWS's quota of MFA devices per user.
const PER_USER: usize = 8;
/// Steps either side of now that EnableMFADevice accepts (device clocks drift).
const ENABLE_WINDOW: i64 = 2;
/// ResyncMFADevice exists for drifted devices, so it looks further.
const RESYNC_WINDOW: i64 = 20;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VirtualMfa {
    pub serial: String,
    /// The seed as base32 text (what Base32StringSeed carries).
    pub seed: String,
    pub created: i64,
    /// The user the device is enabled for.
    pub user: Option<String>,
    pub enabled: Option<i64>,
    /// Steps the device's clock is off from nephos's, learnt at enable and resync.
    #[serde(default)]
    pub drift: i64,
    #[serde(default)]
    pub tags: Tags,
}

fn serial_not_found(serial: &str) -> AwsError {
    no_such_entity(format!(
        "VirtualMFADevice with serial number {serial} doesn't exist."
    ))
}

fn invalid_code() -> AwsError {
    AwsError::new(
        403,
        "InvalidAuthenticationCode",
        "Authentication code for device is not valid.",
    )
}

/// Whether the code is the one-time code of the user's enabled device now (a step either
/// side, as AWS tolerates); `None` when the user has no such device.
pub(crate) fn verify(
    account: &crate::state::Account,
    offered: &nephos_core::MfaCode<'_>,
) -> Option<bool> {
    let s = account.extras.read().unwrap();
    let d = s.mfa.get(offered.serial)?;
    if d.user.as_deref() != Some(offered.user) || d.enabled.is_none() {
        return None;
    }
    let seed = totp::base32_decode(&d.seed)?;
    let now = offered.now_ms.div_euclid(1000 * totp::STEP_SECS) + d.drift;
    Some((now - 1..=now + 1).any(|step| totp::code(&seed, step) == offered.code))
}

fn now_step(c: &Ctx<'_>) -> i64 {
    c.now().div_euclid(1000 * totp::STEP_SECS)
}

async fn create(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let name = i.str("VirtualMFADeviceName").unwrap_or_default();
    let path = i.str("Path").unwrap_or("/");
    check_path(path)?;
    let tags = Tags::from_input(i)?;
    let serial = format!(
        "arn:aws:iam::{}:mfa{}",
        c.account_id(),
        path_name(path, name)
    );
    let mut seed_bytes = [0u8; 40];
    rand::Rng::fill(&mut rand::rng(), &mut seed_bytes[..]);
    let seed = totp::base32_encode(&seed_bytes);
    // The URI as AWS documents it: the device name, then the account.
    let account_name = c
        .account
        .extras
        .read()
        .unwrap()
        .alias
        .clone()
        .unwrap_or_else(|| c.account_id().to_owned());
    let uri = format!("otpauth://totp/{name}@{account_name}?secret={seed}");
    let png = totp::qr_png(&uri).map_err(|e| {
        tracing::error!(error = %e, "encoding a virtual MFA QR code failed");
        AwsError::new(500, "ServiceFailure", "the QR code could not be made")
    })?;
    let device = VirtualMfa {
        serial: serial.clone(),
        seed: seed.clone(),
        created: c.now(),
        user: None,
        enabled: None,
        drift: 0,
        tags,
    };
    let change = c.put(KIND, &serial, &device);
    let mut out = Value::map()
        .with("SerialNumber", serial.as_str())
        .with("Base32StringSeed", Value::Blob(seed.into_bytes().into()))
        .with("QRCodePNG", Value::Blob(png.into()));
    if !device.tags.is_empty() {
        out.insert("Tags", device.tags.to_value());
    }
    {
        let mut s = c.account.extras.write().unwrap();
        // Names are unique in the account whatever their path.
        let suffix = format!("/{name}");
        if s.mfa.keys().any(|k| k.ends_with(&suffix)) {
            return Err(super::already_exists(
                "MFADevice entity at the same path and name already exists.",
            ));
        }
        s.mfa.insert(serial, device);
    }
    c.commit(vec![change]).await?;
    Ok(Value::map().with("VirtualMFADevice", out))
}

async fn delete(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let serial = i.str("SerialNumber").unwrap_or_default();
    {
        let mut s = c.account.extras.write().unwrap();
        let d = s.mfa.get(serial).ok_or_else(|| serial_not_found(serial))?;
        if d.user.is_some() {
            return Err(delete_conflict("MFA Device is in use by the user."));
        }
        s.mfa.remove(serial);
    }
    c.commit(vec![c.delete(KIND, serial)]).await?;
    Ok(Value::map())
}

/// The `User` member of an assigned device, from what the core entities tell (the
/// model's `User`: path, name, id, ARN, creation date).
fn user_value(c: &Ctx<'_>, name: &str) -> Value {
    let core = c.account.core.read().unwrap();
    match core.user_facts(name) {
        Some(u) => Value::map()
            .with("Path", u.path)
            .with("UserName", u.name)
            .with("UserId", u.id)
            .with("Arn", u.arn)
            .with("CreateDate", ts(u.created)),
        // A device stays enabled for its user until deactivated, and DeleteUser refuses
        // a user with one, so this is not reached; the name is all that is known then.
        None => Value::map().with("UserName", name),
    }
}

async fn list_virtual(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let status = i.str("AssignmentStatus").unwrap_or("Any");
    let devices: Vec<VirtualMfa> = c
        .account
        .extras
        .read()
        .unwrap()
        .mfa
        .values()
        .filter(|d| match status {
            "Assigned" => d.user.is_some(),
            "Unassigned" => d.user.is_none(),
            _ => true,
        })
        .cloned()
        .collect();
    let items = devices
        .iter()
        .map(|d| {
            let mut v = Value::map().with("SerialNumber", d.serial.as_str());
            if let (Some(u), Some(e)) = (&d.user, d.enabled) {
                v.insert("User", user_value(c, u));
                v.insert("EnableDate", ts(e));
            }
            (d.serial.clone(), v)
        })
        .collect();
    page(items, i, "VirtualMFADevices")
}

async fn enable(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let user = c.require_user(i.str("UserName").unwrap_or_default())?;
    let user = user.as_str();
    let serial = i.str("SerialNumber").unwrap_or_default();
    let (code1, code2) = (
        i.str("AuthenticationCode1").unwrap_or_default(),
        i.str("AuthenticationCode2").unwrap_or_default(),
    );
    let now = now_step(c);
    let device = {
        let s = c.account.extras.read().unwrap();
        let d = s.mfa.get(serial).ok_or_else(|| serial_not_found(serial))?;
        if d.user.is_some() {
            return Err(super::already_exists("MFA Device is already in use."));
        }
        if s.mfa
            .values()
            .filter(|d| d.user.as_deref() == Some(user))
            .count()
            >= PER_USER
        {
            return Err(limit_exceeded(format!(
                "Cannot exceed quota for MFADevicesPerUser: {PER_USER}"
            )));
        }
        d.clone()
    };
    let seed = totp::base32_decode(&device.seed).unwrap_or_default();
    let step =
        totp::find_consecutive(&seed, now, ENABLE_WINDOW, code1, code2).ok_or_else(invalid_code)?;
    let mut device = device;
    device.user = Some(user.to_owned());
    device.enabled = Some(c.now());
    // The second code is the device's "now".
    device.drift = step + 1 - now;
    let change = c.put(KIND, serial, &device);
    {
        let mut s = c.extras_for_user(user)?;
        if s.mfa.get(serial).is_none_or(|d| d.user.is_some()) {
            return Err(super::already_exists("MFA Device is already in use."));
        }
        s.mfa.insert(serial.to_owned(), device);
    }
    c.commit(vec![change]).await?;
    Ok(Value::map())
}

/// The user's device `serial`, or AWS's NoSuchEntity.
fn users_device(c: &Ctx<'_>, user: &str, serial: &str) -> Result<VirtualMfa, AwsError> {
    c.account
        .extras
        .read()
        .unwrap()
        .mfa
        .get(serial)
        .filter(|d| d.user.as_deref() == Some(user))
        .cloned()
        .ok_or_else(|| {
            no_such_entity(format!(
                "MFA Device with serial number {serial} does not exist."
            ))
        })
}

async fn deactivate(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let user = c.require_user(&c.user_or_caller(i)?)?;
    let serial = i.str("SerialNumber").unwrap_or_default();
    let mut device = users_device(c, &user, serial)?;
    device.user = None;
    device.enabled = None;
    store_users_device(c, &user, device).await?;
    Ok(Value::map())
}

async fn resync(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let user = c.require_user(i.str("UserName").unwrap_or_default())?;
    let user = user.as_str();
    let serial = i.str("SerialNumber").unwrap_or_default();
    let mut device = users_device(c, user, serial)?;
    let seed = totp::base32_decode(&device.seed).unwrap_or_default();
    let now = now_step(c);
    let step = totp::find_consecutive(
        &seed,
        now,
        RESYNC_WINDOW,
        i.str("AuthenticationCode1").unwrap_or_default(),
        i.str("AuthenticationCode2").unwrap_or_default(),
    )
    .ok_or_else(invalid_code)?;
    device.drift = step + 1 - now;
    store_users_device(c, user, device).await?;
    Ok(Value::map())
}

/// Writes back a device of `user` read by [`users_device`], unless it was deactivated,
/// deleted or its user renamed since.
async fn store_users_device(c: &Ctx<'_>, user: &str, device: VirtualMfa) -> Result<(), AwsError> {
    let serial = device.serial.clone();
    let change = c.put(KIND, &serial, &device);
    {
        let mut s = c.extras_for_user(user)?;
        match s.mfa.get_mut(&serial) {
            Some(d) if d.user.as_deref() == Some(user) => *d = device,
            _ => {
                return Err(no_such_entity(format!(
                    "MFA Device with serial number {serial} does not exist."
                )));
            }
        }
    }
    c.commit(vec![change]).await
}

async fn list(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    // The root user (or a role) listing its own devices: nephos gives those none.
    let user = match (i.str("UserName"), c.caller_user()) {
        (Some(u), _) => u.to_owned(),
        (None, Some(u)) => u,
        (None, None) => return page(Vec::new(), i, "MFADevices"),
    };
    let user = c.require_user(&user)?;
    let items = c
        .account
        .extras
        .read()
        .unwrap()
        .mfa
        .values()
        .filter(|d| d.user.as_deref() == Some(user.as_str()))
        .map(|d| {
            (
                d.serial.clone(),
                Value::map()
                    .with("UserName", user.as_str())
                    .with("SerialNumber", d.serial.as_str())
                    .with("EnableDate", ts(d.enabled.unwrap_or(d.created))),
            )
        })
        .collect();
    page(items, i, "MFADevices")
}

/// GetMFADevice describes FIDO security keys only; nephos has no FIDO devices, and a
/// virtual device's serial is not one.
async fn get(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    if let Some(user) = i.str("UserName") {
        c.require_user(user)?;
    }
    let serial = i.str("SerialNumber").unwrap_or_default();
    Err(no_such_entity(format!(
        "MFA Device with serial number {serial} does not exist."
    )))
}

fn with_device<T>(
    c: &Ctx<'_>,
    serial: &str,
    f: impl FnOnce(&mut VirtualMfa) -> Result<T, AwsError>,
) -> Result<(T, VirtualMfa), AwsError> {
    let mut s = c.account.extras.write().unwrap();
    let d = s
        .mfa
        .get_mut(serial)
        .ok_or_else(|| serial_not_found(serial))?;
    let mut copy = d.clone();
    let out = f(&mut copy)?;
    *d = copy.clone();
    Ok((out, copy))
}

async fn tag(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let serial = i.str("SerialNumber").unwrap_or_default();
    let ((), d) = with_device(c, serial, |d| d.tags.merge(i))?;
    c.commit(vec![c.put(KIND, serial, &d)]).await?;
    Ok(Value::map())
}

async fn untag(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let serial = i.str("SerialNumber").unwrap_or_default();
    let ((), d) = with_device(c, serial, |d| {
        d.tags.remove(i);
        Ok(())
    })?;
    c.commit(vec![c.put(KIND, serial, &d)]).await?;
    Ok(Value::map())
}

async fn list_tags(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let serial = i.str("SerialNumber").unwrap_or_default();
    let s = c.account.extras.read().unwrap();
    let d = s.mfa.get(serial).ok_or_else(|| serial_not_found(serial))?;
    d.tags.list_answer(i)
}
