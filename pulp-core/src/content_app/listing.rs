//! The HTML directory listings (shaped like Pulp's "Index of …" pages).

use super::resolve::ListingEntry;

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => out.push(c),
        }
    }
    out
}

/// Percent-encodes a path segment for an `href`.
fn href(name: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'<')
        .add(b'>')
        .add(b'?')
        .add(b'`')
        .add(b'{')
        .add(b'}');
    percent_encoding::utf8_percent_encode(name, SET).to_string()
}

/// The listing page of `path` (the full request path, ending with `/`).
pub fn render(path: &str, entries: &[ListingEntry], parent_link: bool) -> String {
    let title = escape(path);
    let mut out = format!(
        "<!DOCTYPE html>\n<html>\n<head><title>Index of {title}</title></head>\n<body>\n\
         <h1>Index of {title}</h1>\n<hr><pre>"
    );
    if parent_link {
        out.push_str("<a href=\"../\">../</a>\n");
    }
    for entry in entries {
        let name = escape(&entry.name);
        let link = escape(&href(&entry.name));
        let pad = 50usize.saturating_sub(entry.name.chars().count());
        let date = entry
            .date
            .map(|d| d.format("%d-%b-%Y %H:%M").to_string())
            .unwrap_or_else(|| " ".repeat(17));
        let size = entry
            .size
            .map(|s| s.to_string())
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "<a href=\"{link}\">{name}</a>{} {date} {size:>12}\n",
            " ".repeat(pad)
        ));
    }
    out.push_str("</pre><hr></body>\n</html>\n");
    out
}
