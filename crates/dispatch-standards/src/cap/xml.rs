//! The CAP 1.2 document, written by hand: a dozen element kinds in a fixed order do not need an
//! XML library, and writing them in the XSD's sequence order here is what makes the document
//! valid (`xs:sequence` is order-sensitive).

use super::{Alert, Area, Info, NAMESPACE, NamedValue};

/// Text escaped for element content: `&`, `<`, `>`, and carriage returns (which an XML parser
/// would otherwise normalise away).
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// An indented XML writer of elements and text.
pub(crate) struct Writer {
    out: String,
    depth: usize,
}

impl Writer {
    pub(crate) fn new() -> Self {
        Self {
            out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
            depth: 0,
        }
    }

    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }

    /// `<name attr="value"...>` on its own line.
    pub(crate) fn open(&mut self, name: &str, attributes: &[(&str, &str)]) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        self.attributes(attributes);
        self.out.push_str(">\n");
        self.depth += 1;
    }

    pub(crate) fn close(&mut self, name: &str) {
        self.depth -= 1;
        self.indent();
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    /// `<name>text</name>`.
    pub(crate) fn leaf(&mut self, name: &str, text: &str) {
        self.leaf_with(name, &[], text);
    }

    pub(crate) fn leaf_with(&mut self, name: &str, attributes: &[(&str, &str)], text: &str) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        self.attributes(attributes);
        self.out.push('>');
        self.out.push_str(&escape(text));
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    /// `<name attr="value"/>`.
    pub(crate) fn empty(&mut self, name: &str, attributes: &[(&str, &str)]) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        self.attributes(attributes);
        self.out.push_str("/>\n");
    }

    fn attributes(&mut self, attributes: &[(&str, &str)]) {
        for (name, value) in attributes {
            self.out.push(' ');
            self.out.push_str(name);
            self.out.push_str("=\"");
            self.out.push_str(&escape(value));
            self.out.push('"');
        }
    }

    fn optional(&mut self, name: &str, text: Option<&str>) {
        if let Some(text) = text {
            self.leaf(name, text);
        }
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }
}

/// The `<alert>` document, children in the XSD's order.
pub(crate) fn alert(alert: &Alert) -> String {
    let mut w = Writer::new();
    w.open("alert", &[("xmlns", NAMESPACE)]);
    w.leaf("identifier", alert.identifier.as_str());
    w.leaf("sender", alert.sender.as_str());
    w.leaf("sent", &alert.sent.to_string());
    w.leaf("status", alert.status.as_str());
    w.leaf("msgType", alert.msg_type.as_str());
    w.optional("source", alert.source.as_deref());
    w.leaf("scope", alert.scope.as_str());
    // restriction, addresses and code: not issued (Public scope only).
    w.optional("note", alert.note.as_deref());
    if !alert.references.is_empty() {
        let references: Vec<String> = alert.references.iter().map(ToString::to_string).collect();
        w.leaf("references", &references.join(" "));
    }
    if !alert.incidents.is_empty() {
        let incidents: Vec<&str> = alert.incidents.iter().map(|t| t.as_str()).collect();
        w.leaf("incidents", &incidents.join(" "));
    }
    for info in &alert.infos {
        self::info(&mut w, info);
    }
    w.close("alert");
    w.finish()
}

fn info(w: &mut Writer, info: &Info) {
    w.open("info", &[]);
    w.leaf("language", info.language.as_str());
    for category in &info.categories {
        w.leaf("category", category.as_str());
    }
    w.leaf("event", &info.event);
    for response in &info.response_types {
        w.leaf("responseType", response.as_str());
    }
    w.leaf("urgency", info.urgency.as_str());
    w.leaf("severity", info.severity.as_str());
    w.leaf("certainty", info.certainty.as_str());
    // audience: not issued.
    named_values(w, "eventCode", &info.event_codes);
    let times = [("effective", info.effective), ("expires", info.expires)];
    // onset sits between effective and expires in the XSD; not issued.
    for (name, time) in times {
        if let Some(time) = time {
            w.leaf(name, &time.to_string());
        }
    }
    w.optional("senderName", info.sender_name.as_deref());
    w.optional("headline", info.headline.as_deref());
    w.optional("description", info.description.as_deref());
    w.optional("instruction", info.instruction.as_deref());
    // web: not issued (the feed links each alert).
    w.optional("contact", info.contact.as_deref());
    named_values(w, "parameter", &info.parameters);
    // resource: not issued.
    for area in &info.areas {
        self::area(w, area);
    }
    w.close("info");
}

fn named_values(w: &mut Writer, element: &str, pairs: &[NamedValue]) {
    for pair in pairs {
        w.open(element, &[]);
        w.leaf("valueName", &pair.name);
        w.leaf("value", &pair.value);
        w.close(element);
    }
}

fn area(w: &mut Writer, area: &Area) {
    w.open("area", &[]);
    w.leaf("areaDesc", &area.description);
    for polygon in &area.polygons {
        w.leaf("polygon", &polygon.to_string());
    }
    for circle in &area.circles {
        w.leaf("circle", &circle.to_string());
    }
    w.close("area");
}
