//! Byte 0 picks a policy kind (identity, resource, trust, boundary, session); the rest,
//! as UTF-8 text, goes to `nephos_policy::Document::parse` (IAM's validation) and to
//! `Document::parse_lenient`, and what parses is evaluated against a few requests.
//! Invariants: a document IAM accepts reads to the same number of statements leniently;
//! `authorize` agrees with `evaluate`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nephos_policy::{Context, Document, PolicyKind, PolicySet, Principal, Request, engine};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let kind = [
        PolicyKind::Identity,
        PolicyKind::Resource,
        PolicyKind::Trust,
        PolicyKind::Boundary,
        PolicyKind::Session,
    ][usize::from(pick) % 5];
    let _ = nephos_policy::canonical_len(text);
    let lenient = Document::parse_lenient(text);
    let strict = Document::parse(text, kind);
    if let Ok(doc) = &strict {
        assert_eq!(doc.len(), lenient.len(), "{text}");
        let _ = doc.context_keys();
        let _ = doc.principals();
    }

    let mut ctx = Context::new();
    ctx.set("aws:username", "alice")
        .set("aws:SourceIp", "203.0.113.9")
        .set("aws:CurrentTime", "2024-05-01T12:00:00Z")
        .set("aws:EpochTime", "1714564800")
        .set("aws:SecureTransport", "true")
        .set("aws:PrincipalTag/team", "blue")
        .set_many("aws:TagKeys", ["team", "env"]);
    let principals = [
        Principal::Aws {
            account: "111122223333".into(),
            arn: "arn:aws:iam::111122223333:user/alice".into(),
        },
        Principal::Aws {
            account: "111122223333".into(),
            arn: "arn:aws:sts::111122223333:assumed-role/Admin/s".into(),
        },
        Principal::Service("s3.amazonaws.com".into()),
        Principal::anonymous(),
    ];
    let targets = [
        ("s3:GetObject", "arn:aws:s3:::bucket/home/alice/file"),
        ("sts:AssumeRole", "arn:aws:iam::111122223333:role/Admin"),
        ("iam:CreateUser", "*"),
    ];
    for principal in &principals {
        for (action, resource) in targets {
            let req = Request {
                principal,
                action,
                resource,
                context: &ctx,
            };
            let mut set = PolicySet::new("111122223333");
            match &strict {
                Ok(doc) if kind.names_principals() => set.resource = Some(("doc", doc)),
                Ok(doc) if kind == PolicyKind::Boundary => {
                    set.identity.push(("doc", doc));
                    set.boundary = Some(("doc", doc));
                }
                Ok(doc) => set.identity.push(("doc", doc)),
                Err(_) => set.resource = Some(("doc", &lenient)),
            }
            let full = engine::evaluate(&req, &set);
            assert_eq!(
                nephos_policy::authorize(&req, &set),
                full.denied_by.map_or(Ok(()), Err)
            );
            set.resource_account = Some("444455556666");
            let _ = nephos_policy::authorize(&req, &set);
        }
    }
});
