//! Arbitrary bytes into the XML document reader shared by the query, ec2 and restXml
//! codecs: it must build a tree or return an error, never panic or recurse without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(root) = nephos_protocol::xml::parse_document(data) {
        // Walk what was built, as the shape readers do.
        let _ = root.local_name();
        let _ = root.attr("xmlns");
        for child in root.children_named("member") {
            let _ = child.child("key");
        }
    }
});
