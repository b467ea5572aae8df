//! Just enough XML for signed SAML: a document read into a tree that keeps what
//! canonicalization needs (prefixes, namespace declarations, attribute and text values
//! as the XML processor reports them), namespace resolution, and Exclusive XML
//! Canonicalization 1.0 without comments (<https://www.w3.org/TR/xml-exc-c14n/>).
//!
//! Documents with a DOCTYPE are refused: SAML needs none, and entity declarations are
//! how XML parsers are attacked.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use std::collections::BTreeMap;

pub(crate) const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
/// SAML responses nest a dozen elements deep; the tree is walked recursively, so a
/// document nested deeper than this is refused rather than allowed to exhaust a stack.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Element(Element),
    Text(String),
    /// A processing instruction: target and data.
    Pi(String, String),
}

#[derive(Debug, Clone)]
pub(crate) struct Attr {
    pub(crate) prefix: Option<String>,
    pub(crate) local: String,
    pub(crate) value: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Element {
    pub(crate) prefix: Option<String>,
    pub(crate) local: String,
    /// Namespace declarations on this element: prefix (`""` for the default) and URI.
    pub(crate) ns_decls: Vec<(String, String)>,
    pub(crate) attrs: Vec<Attr>,
    pub(crate) children: Vec<Node>,
}

/// The namespaces in scope at an element: prefix (`""` for the default) to URI.
pub(crate) type Scope = BTreeMap<String, String>;

impl Element {
    pub(crate) fn qname(&self) -> String {
        match &self.prefix {
            Some(p) => format!("{p}:{}", self.local),
            None => self.local.clone(),
        }
    }

    /// The scope of this element's content, from its parent's.
    pub(crate) fn scope(&self, parent: &Scope) -> Scope {
        let mut scope = parent.clone();
        for (p, uri) in &self.ns_decls {
            scope.insert(p.clone(), uri.clone());
        }
        scope
    }

    /// The namespace URI of this element in `scope` (its own).
    pub(crate) fn ns<'a>(&self, scope: &'a Scope) -> &'a str {
        scope
            .get(self.prefix.as_deref().unwrap_or(""))
            .map_or("", String::as_str)
    }

    pub(crate) fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.prefix.is_none() && a.local == local)
            .map(|a| a.value.as_str())
    }

    pub(crate) fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|c| match c {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// The text content (of all descendants).
    pub(crate) fn text(&self) -> String {
        let mut out = String::new();
        for c in &self.children {
            match c {
                Node::Text(t) => out.push_str(t),
                Node::Element(e) => out.push_str(&e.text()),
                Node::Pi(..) => {}
            }
        }
        out
    }
}

/// XML's end-of-line handling: `\r\n` and lone `\r` read as `\n`.
fn normalize_eol(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// Resolves the predefined entities and character references of escaped text.
fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 1..];
        let end = tail.find(';').ok_or("an unterminated reference")?;
        out.push(resolve(&tail[..end])?);
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn resolve(name: &str) -> Result<char, String> {
    let code = match name {
        "amp" => return Ok('&'),
        "lt" => return Ok('<'),
        "gt" => return Ok('>'),
        "quot" => return Ok('"'),
        "apos" => return Ok('\''),
        n if n.starts_with("#x") => u32::from_str_radix(&n[2..], 16),
        n if n.starts_with('#') => n[1..].parse(),
        other => return Err(format!("an undeclared entity &{other};")),
    }
    .map_err(|_| format!("a bad character reference &{name};"))?;
    char::from_u32(code).ok_or_else(|| format!("a bad character reference &{name};"))
}

fn split(qname: &str) -> (Option<String>, String) {
    match qname.split_once(':') {
        Some((p, l)) => (Some(p.to_owned()), l.to_owned()),
        None => (None, qname.to_owned()),
    }
}

fn element(start: &BytesStart) -> Result<Element, String> {
    let name = std::str::from_utf8(start.name().as_ref())
        .map_err(|_| "a name is not UTF-8")?
        .to_owned();
    let (prefix, local) = split(&name);
    let mut e = Element {
        prefix,
        local,
        ns_decls: Vec::new(),
        attrs: Vec::new(),
        children: Vec::new(),
    };
    let mut attrs = start.attributes();
    attrs.with_checks(true);
    for a in attrs {
        let a = a.map_err(|e| e.to_string())?;
        let key = std::str::from_utf8(a.key.as_ref()).map_err(|_| "a name is not UTF-8")?;
        let raw = std::str::from_utf8(&a.value).map_err(|_| "a value is not UTF-8")?;
        // Attribute-value normalization: literal white space reads as spaces, what
        // character references produce stays.
        let literal: String = normalize_eol(raw)
            .chars()
            .map(|c| if matches!(c, '\t' | '\n') { ' ' } else { c })
            .collect();
        let value = unescape(&literal)?;
        if key == "xmlns" {
            e.ns_decls.push((String::new(), value));
        } else if let Some(p) = key.strip_prefix("xmlns:") {
            e.ns_decls.push((p.to_owned(), value));
        } else {
            let (prefix, local) = split(key);
            e.attrs.push(Attr {
                prefix,
                local,
                value,
            });
        }
    }
    Ok(e)
}

/// Reads a document's root element.
pub(crate) fn parse(text: &str) -> Result<Element, String> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(false);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    loop {
        let event = reader.read_event().map_err(|e| e.to_string())?;
        let push = |stack: &mut Vec<Element>, node: Node| -> Result<(), String> {
            match stack.last_mut() {
                Some(parent) => {
                    if let (Node::Text(t), Some(Node::Text(prev))) =
                        (&node, parent.children.last_mut())
                    {
                        prev.push_str(t);
                    } else {
                        parent.children.push(node);
                    }
                    Ok(())
                }
                None => match node {
                    Node::Text(t) if t.trim().is_empty() => Ok(()),
                    Node::Pi(..) => Ok(()),
                    _ => Err("content outside the root element".into()),
                },
            }
        };
        match event {
            Event::Start(s) => {
                if stack.len() >= MAX_DEPTH {
                    return Err("the document is nested too deeply".into());
                }
                stack.push(element(&s)?);
            }
            Event::Empty(s) => {
                let e = element(&s)?;
                if stack.is_empty() {
                    if root.is_some() {
                        return Err("more than one root element".into());
                    }
                    root = Some(e);
                } else {
                    push(&mut stack, Node::Element(e))?;
                }
            }
            Event::End(_) => {
                let e = stack.pop().ok_or("an unmatched end tag")?;
                if stack.is_empty() {
                    if root.is_some() {
                        return Err("more than one root element".into());
                    }
                    root = Some(e);
                } else {
                    push(&mut stack, Node::Element(e))?;
                }
            }
            Event::Text(t) => {
                let raw = std::str::from_utf8(&t).map_err(|_| "text is not UTF-8")?;
                push(&mut stack, Node::Text(unescape(&normalize_eol(raw))?))?;
            }
            Event::GeneralRef(r) => {
                let name = std::str::from_utf8(&r).map_err(|_| "a reference is not UTF-8")?;
                push(&mut stack, Node::Text(resolve(name)?.to_string()))?;
            }
            Event::CData(c) => {
                let raw = std::str::from_utf8(&c).map_err(|_| "CDATA is not UTF-8")?;
                push(&mut stack, Node::Text(normalize_eol(raw)))?;
            }
            Event::PI(pi) => {
                let target = String::from_utf8_lossy(pi.target()).into_owned();
                let data = String::from_utf8_lossy(pi.content())
                    .trim_start()
                    .to_owned();
                push(&mut stack, Node::Pi(target, normalize_eol(&data)))?;
            }
            Event::DocType(_) => return Err("a DOCTYPE is not allowed".into()),
            Event::Comment(_) | Event::Decl(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err("the document ends inside an element".into());
    }
    root.ok_or_else(|| "no root element".into())
}

/// Exclusive canonical form of `e` (whose parent's scope is `scope`), leaving out the
/// element `skip` (the enveloped signature) wherever it is. `inclusive` lists the
/// prefixes of an `InclusiveNamespaces PrefixList` (`#default` for the default one).
pub(crate) fn exc_c14n(
    e: &Element,
    scope: &Scope,
    skip: Option<*const Element>,
    inclusive: &[String],
) -> String {
    let mut out = String::new();
    let rendered = Scope::new();
    write_element(e, scope, &rendered, skip, inclusive, &mut out);
    out
}

fn write_element(
    e: &Element,
    parent_scope: &Scope,
    rendered: &Scope,
    skip: Option<*const Element>,
    inclusive: &[String],
    out: &mut String,
) {
    let scope = e.scope(parent_scope);
    // The namespaces this element visibly utilizes, and those listed as inclusive.
    let mut used: Vec<String> = vec![e.prefix.clone().unwrap_or_default()];
    for a in &e.attrs {
        if let Some(p) = &a.prefix
            && p != "xml"
        {
            used.push(p.clone());
        }
    }
    for p in inclusive {
        let p = if p == "#default" {
            String::new()
        } else {
            p.clone()
        };
        if scope.contains_key(&p) {
            used.push(p);
        }
    }
    used.sort();
    used.dedup();
    let mut own_rendered = rendered.clone();
    let mut decls: Vec<(String, String)> = Vec::new();
    for p in used {
        let uri = scope.get(&p).cloned().unwrap_or_default();
        if rendered.get(&p) == Some(&uri) {
            continue;
        }
        // No default namespace, and none rendered above: nothing to undeclare.
        if p.is_empty() && uri.is_empty() && rendered.get("").is_none_or(String::is_empty) {
            continue;
        }
        own_rendered.insert(p.clone(), uri.clone());
        decls.push((p, uri));
    }
    out.push('<');
    out.push_str(&e.qname());
    // Default namespace first, then by prefix (sorted already).
    for (p, uri) in &decls {
        if p.is_empty() {
            out.push_str(" xmlns=\"");
        } else {
            out.push_str(" xmlns:");
            out.push_str(p);
            out.push_str("=\"");
        }
        escape_attr(uri, out);
        out.push('"');
    }
    let mut attrs: Vec<(&str, &Attr)> = e
        .attrs
        .iter()
        .map(|a| {
            let ns = match a.prefix.as_deref() {
                None => "",
                Some("xml") => XML_NS,
                Some(p) => scope.get(p).map_or("", String::as_str),
            };
            (ns, a)
        })
        .collect();
    attrs.sort_by(|(na, a), (nb, b)| (na, &a.local).cmp(&(nb, &b.local)));
    for (_, a) in attrs {
        out.push(' ');
        if let Some(p) = &a.prefix {
            out.push_str(p);
            out.push(':');
        }
        out.push_str(&a.local);
        out.push_str("=\"");
        escape_attr(&a.value, out);
        out.push('"');
    }
    out.push('>');
    for c in &e.children {
        match c {
            Node::Element(child) => {
                if skip.is_some_and(|s| std::ptr::eq(s, child)) {
                    continue;
                }
                write_element(child, &scope, &own_rendered, skip, inclusive, out);
            }
            Node::Text(t) => escape_text(t, out),
            Node::Pi(target, data) => {
                out.push_str("<?");
                out.push_str(target);
                if !data.is_empty() {
                    out.push(' ');
                    out.push_str(data);
                }
                out.push_str("?>");
            }
        }
    }
    out.push_str("</");
    out.push_str(&e.qname());
    out.push('>');
}

fn escape_text(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn escape_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c14n(doc: &str) -> String {
        let root = parse(doc).unwrap();
        exc_c14n(&root, &Scope::new(), None, &[])
    }

    #[test]
    fn canonical_form_of_the_specs_examples() {
        // Empty elements become start-end pairs, attributes are sorted, quotes doubled,
        // white space in tags goes, references resolve.
        assert_eq!(
            c14n(
                "<?xml version=\"1.0\"?>\n<doc b = 'x' a=\"&lt;&#x41;\" ><e1   /><!-- gone --><e2>a&amp;b &gt; c</e2></doc>"
            ),
            "<doc a=\"&lt;A\" b=\"x\"><e1></e1><e2>a&amp;b &gt; c</e2></doc>"
        );
        // Only namespaces an element uses are rendered, where first used.
        assert_eq!(
            c14n(
                r#"<a:r xmlns:a="urn:a" xmlns:b="urn:b" xmlns:c="urn:c"><b:x c:at="1"/><y/></a:r>"#
            ),
            r#"<a:r xmlns:a="urn:a"><b:x xmlns:b="urn:b" xmlns:c="urn:c" c:at="1"></b:x><y></y></a:r>"#
        );
        // Attributes sort by namespace URI, unqualified ones first.
        assert_eq!(
            c14n(r#"<e xmlns:z="urn:a" xmlns:y="urn:b" y:k="1" z:k="2" b="3"/>"#),
            r#"<e xmlns:y="urn:b" xmlns:z="urn:a" b="3" z:k="2" y:k="1"></e>"#
        );
        // Default namespaces, and undeclaring one.
        assert_eq!(
            c14n(r#"<r xmlns="urn:d"><s xmlns=""><t/></s><u/></r>"#),
            r#"<r xmlns="urn:d"><s xmlns=""><t></t></s><u></u></r>"#
        );
        // Line ends and attribute white space normalize; CDATA is text.
        assert_eq!(
            c14n("<r a=\"x\ty&#9;\">1\r\n2<![CDATA[<&>]]></r>"),
            "<r a=\"x y&#x9;\">1\n2&lt;&amp;&gt;</r>"
        );
    }

    #[test]
    fn a_subtree_renders_the_namespaces_it_inherits_and_uses() {
        let root =
            parse(r#"<p:a xmlns:p="urn:p" xmlns:q="urn:q"><p:b><q:c/></p:b></p:a>"#).unwrap();
        let scope = root.scope(&Scope::new());
        let b = root.elements().next().unwrap();
        assert_eq!(
            exc_c14n(b, &scope, None, &[]),
            r#"<p:b xmlns:p="urn:p"><q:c xmlns:q="urn:q"></q:c></p:b>"#
        );
        assert_eq!(
            exc_c14n(b, &scope, None, &["q".into()]),
            r#"<p:b xmlns:p="urn:p" xmlns:q="urn:q"><q:c></q:c></p:b>"#
        );
        let skip = b.elements().next().unwrap() as *const Element;
        assert_eq!(
            exc_c14n(b, &scope, Some(skip), &[]),
            r#"<p:b xmlns:p="urn:p"></p:b>"#
        );
    }

    #[test]
    fn refuses_what_saml_never_needs() {
        assert!(parse(r#"<!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>"#).is_err());
        assert!(parse("<r>&x;</r>").is_err());
        assert!(parse("<r><s></r>").is_err());
        assert!(parse("<r/><s/>").is_err());
        assert!(parse(r#"<r a="1" a="2"/>"#).is_err());
        let deep = format!("{}{}", "<a>".repeat(10_000), "</a>".repeat(10_000));
        assert!(parse(&deep).is_err());
    }
}
