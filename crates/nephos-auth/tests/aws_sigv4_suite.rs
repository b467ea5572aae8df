//! Runs every case of AWS's SigV4 test suite (`shared/aws-sigv4-tests`): canonical
//! request, string to sign and Authorization header from the `.req`, then verification
//! of the signed `.sreq` (and its rejection once the signature or method changes).
//! Cases or parts that cannot apply are listed in `tests/skips.txt` as
//! `case-id[:part]  # reason` with part `req` (the .req checks), `sreq` (the signed
//! request verifies) or `authz` (the .sreq re-signed with the .authz header).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use nephos_auth::{
    AuthErrorKind, RequestParts, canonical_request, derive_signing_key, parse_amz_date, parse_auth,
    sha256_hex, sign, string_to_sign, verify_parts,
};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const AMZ_DATE: &str = "20150830T123600Z";
const SCOPE: &str = "20150830/us-east-1/service/aws4_request";

fn suite_dir() -> PathBuf {
    if let Ok(p) = std::env::var("NEPHOS_SIGV4_TESTS") {
        return PathBuf::from(p);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The repo may be /work/main (shared/ beside it), a worktree deeper down, or a CI
    // clone with shared/ copied beside it: look in every ancestor.
    for dir in manifest.ancestors() {
        let candidate = dir.join("shared").join("aws-sigv4-tests");
        if candidate.join("README.md").is_file() {
            return candidate;
        }
    }
    panic!(
        "AWS SigV4 test suite not found: set NEPHOS_SIGV4_TESTS or put shared/aws-sigv4-tests beside the repository"
    );
}

fn find_cases(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if p.join(format!("{name}.req")).is_file() {
                let id = p.strip_prefix(root).unwrap().to_string_lossy().to_string();
                out.push((id, p.clone()));
            }
            find_cases(&p, root, out);
        }
    }
}

struct RawRequest {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    /// Header names in order of appearance, lowercase, deduplicated.
    names: Vec<String>,
    body: Vec<u8>,
}

fn parse_request(text: &[u8]) -> RawRequest {
    let text = String::from_utf8(text.to_vec()).expect("suite files are UTF-8");
    let (head, body) = match text.find("\n\n") {
        Some(i) => (&text[..i], text.as_bytes()[i + 2..].to_vec()),
        None => (text.as_str(), Vec::new()),
    };
    let mut lines = head.lines();
    let request_line = lines.next().expect("request line");
    let (method, rest) = request_line.split_once(' ').expect("method");
    let (target, _version) = rest.rsplit_once(' ').expect("version");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    // Unfold obs-fold continuation lines into the previous header, as an HTTP/1.1
    // server must (RFC 7230 3.2.4: replace each fold with SP).
    let mut raw: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            let last = raw.last_mut().expect("continuation after a header");
            last.1.push(' ');
            last.1.push_str(line);
        } else if let Some((k, v)) = line.split_once(':') {
            raw.push((k.to_string(), v.to_string()));
        }
    }
    let mut headers = HeaderMap::new();
    let mut names = Vec::new();
    for (k, v) in raw {
        let name = HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()).expect("name");
        if !names.contains(&name.as_str().to_string()) {
            names.push(name.as_str().to_string());
        }
        headers.append(name, HeaderValue::from_bytes(v.as_bytes()).expect("value"));
    }
    RawRequest {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
        names,
        body,
    }
}

fn read(dir: &Path, ext: &str) -> String {
    let name = dir.file_name().unwrap().to_string_lossy();
    std::fs::read_to_string(dir.join(format!("{name}.{ext}")))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

fn load_skips() -> HashMap<String, String> {
    let text = include_str!("skips.txt");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| {
            let (id, reason) = l.split_once('#').unwrap_or((l, ""));
            (id.trim().to_string(), reason.trim().to_string())
        })
        .collect()
}

/// A URI the `http` crate accepts, for `parse_auth` (which only reads the query).
fn uri_for(query: &str) -> Uri {
    let q: String = percent_encoding::utf8_percent_encode(query, percent_encoding::CONTROLS)
        .to_string()
        .replace(' ', "%20");
    let s = if q.is_empty() {
        "/".to_string()
    } else {
        format!("/?{q}")
    };
    s.parse().expect("uri")
}

fn check_req(dir: &Path) -> Result<(), String> {
    let req = parse_request(read(dir, "req").as_bytes());
    let mut signed = req.names.clone();
    signed.sort();
    let parts = RequestParts {
        method: &req.method,
        path: &req.path,
        query: &req.query,
        headers: &req.headers,
        authority: None,
    };
    let creq = canonical_request(&parts, &signed, &sha256_hex(&req.body), "service", false);
    let expected = read(dir, "creq");
    if creq != expected {
        return Err(format!(
            "canonical request:\n{creq}\n--- expected:\n{expected}"
        ));
    }
    let sts = string_to_sign(AMZ_DATE, SCOPE, &creq);
    let expected = read(dir, "sts");
    if sts != expected {
        return Err(format!("string to sign:\n{sts}\n--- expected:\n{expected}"));
    }
    let key = derive_signing_key(SECRET, "20150830", "us-east-1", "service");
    let authz = format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{SCOPE}, SignedHeaders={}, Signature={}",
        signed.join(";"),
        sign(&key, &sts)
    );
    let expected = read(dir, "authz");
    if authz != expected {
        return Err(format!(
            "authorization:\n{authz}\n--- expected:\n{expected}"
        ));
    }
    Ok(())
}

fn check_sreq(dir: &Path) -> Result<(), String> {
    let req = parse_request(read(dir, "sreq").as_bytes());
    let method = Method::from_bytes(req.method.as_bytes()).map_err(|e| e.to_string())?;
    let info = parse_auth(&method, &uri_for(&req.query), &req.headers)
        .ok_or("no credentials found")?
        .map_err(|e| format!("parse: {e}"))?;
    let body_hash = sha256_hex(&req.body);
    let now = parse_amz_date(AMZ_DATE).unwrap() + 42;
    let parts = RequestParts {
        method: &req.method,
        path: &req.path,
        query: &req.query,
        headers: &req.headers,
        authority: None,
    };
    verify_parts(&info, &parts, Some(&body_hash), SECRET, now)
        .map_err(|e| format!("verification failed: {e}"))?;

    let mut tampered = info.clone();
    let last = tampered.signature.pop().ok_or("empty signature")?;
    tampered.signature.push(if last == '0' { '1' } else { '0' });
    match verify_parts(&tampered, &parts, Some(&body_hash), SECRET, now) {
        Err(e) if e.kind == AuthErrorKind::SignatureMismatch => {}
        other => return Err(format!("tampered signature not rejected: {other:?}")),
    }
    let other_method = if req.method == "GET" { "POST" } else { "GET" };
    let parts = RequestParts {
        method: other_method,
        ..parts
    };
    if verify_parts(&info, &parts, Some(&body_hash), SECRET, now).is_ok() {
        return Err("changed method not rejected".into());
    }
    Ok(())
}

/// The `.sreq` with the `.authz` header in place of its own: the canonical request
/// rebuilt from the claims must equal `.creq` and verify.
fn check_authz(dir: &Path) -> Result<(), String> {
    let mut req = parse_request(read(dir, "sreq").as_bytes());
    let authz = read(dir, "authz");
    req.headers.insert(
        http::header::AUTHORIZATION,
        HeaderValue::from_str(authz.trim()).map_err(|e| e.to_string())?,
    );
    let method = Method::from_bytes(req.method.as_bytes()).map_err(|e| e.to_string())?;
    let info = parse_auth(&method, &uri_for(&req.query), &req.headers)
        .ok_or("no credentials found")?
        .map_err(|e| format!("parse: {e}"))?;
    let body_hash = sha256_hex(&req.body);
    let parts = RequestParts {
        method: &req.method,
        path: &req.path,
        query: &req.query,
        headers: &req.headers,
        authority: None,
    };
    let creq = canonical_request(
        &parts,
        &info.signed_headers,
        &body_hash,
        &info.service,
        false,
    );
    let expected = read(dir, "creq");
    if creq != expected {
        return Err(format!(
            "canonical request:\n{creq}\n--- expected:\n{expected}"
        ));
    }
    let now = parse_amz_date(AMZ_DATE).unwrap() - 42;
    verify_parts(&info, &parts, Some(&body_hash), SECRET, now)
        .map_err(|e| format!("verification failed: {e}"))?;
    Ok(())
}

#[test]
fn aws_sigv4_test_suite() {
    let root = suite_dir();
    let mut cases = Vec::new();
    find_cases(&root, &root, &mut cases);
    cases.sort();
    assert!(
        cases.len() >= 30,
        "only {} cases found under {}",
        cases.len(),
        root.display()
    );
    let skips = load_skips();
    let (mut passed, mut skipped, mut failures) = (0, 0, Vec::new());
    for (id, dir) in &cases {
        for (part, check) in [
            ("req", check_req as fn(&Path) -> _),
            ("sreq", check_sreq),
            ("authz", check_authz),
        ] {
            let key = format!("{id}:{part}");
            if skips.contains_key(id) || skips.contains_key(&key) {
                skipped += 1;
                continue;
            }
            match check(dir) {
                Ok(()) => passed += 1,
                Err(e) => failures.push(format!("{key}: {e}")),
            }
        }
    }
    for key in skips.keys() {
        let id = key.split(':').next().unwrap_or(key);
        assert!(
            cases.iter().any(|(c, _)| c == id),
            "skips.txt names unknown case {key}"
        );
    }
    eprintln!(
        "SigV4 suite: {} cases, {passed} checks passed, {skipped} skipped, {} failed",
        cases.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n\n"));
}
