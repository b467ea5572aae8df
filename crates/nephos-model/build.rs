//! Embeds every `models/*.json.gz` into the binary, so nephos needs no files at run time.

use std::{env, fs, path::PathBuf};

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let models = manifest.join("../../models").canonicalize().unwrap();
    println!("cargo:rerun-if-changed={}", models.display());
    let mut names: Vec<String> = fs::read_dir(&models)
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".json.gz").map(str::to_owned)
        })
        .collect();
    names.sort();
    let mut out =
        String::from("/// Every vendored model: botocore service name and gzipped JSON.\n");
    out.push_str("pub static EMBEDDED: &[(&str, &[u8])] = &[\n");
    for name in &names {
        let path = models.join(format!("{name}.json.gz"));
        out.push_str(&format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            path.display().to_string()
        ));
    }
    out.push_str("];\n");
    out.push_str(&format!(
        "/// How many models are embedded.\npub const COUNT: usize = {};\n",
        names.len()
    ));
    out.push_str(&format!(
        "/// The routing index written by models/refresh.py.\npub static INDEX_JSON: &str = include_str!({:?});\n",
        models.join("index.json").display().to_string()
    ));
    let dest = PathBuf::from(env::var("OUT_DIR").unwrap()).join("embedded.rs");
    fs::write(dest, out).unwrap();
}
