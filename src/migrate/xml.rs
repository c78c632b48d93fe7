//! A guarded XML reader for export files from other systems (WordPress, Disqus).
//!
//! quick-xml never expands entities; on top of it this reader refuses any document type
//! declaration (where entities would be declared, so a "billion laughs" file is refused before
//! it can grow anything), resolves only XML's five predefined entities and character references,
//! bounds nesting depth and the length of one text value, and reports every error with the line
//! it happened on.

use quick_xml::events::Event;

use super::MigrateError;

/// Deepest nesting accepted: a WXR or Disqus file needs fewer than ten levels.
pub const MAX_DEPTH: usize = 64;

/// Longest text of one element accepted, in bytes: far above a comment (5,000 characters) or a
/// WordPress post, far below what would hurt memory.
pub const MAX_TEXT_BYTES: usize = 4 * 1024 * 1024;

/// What the reader hands its caller, with names stripped of their namespace prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// An element opened (an empty element gives `Open` then `Close`).
    Open {
        /// Local name (`comment` for `wp:comment`).
        name: String,
        /// Attributes by local name, unescaped.
        attrs: Vec<(String, String)>,
    },
    /// An element closed.
    Close,
    /// Text or CDATA inside the current element, entities resolved.
    Text(String),
    /// The end of the document.
    End,
}

/// Reads a whole document held in memory, which must be UTF-8.
pub struct GuardedXml<'a> {
    input: &'a str,
    reader: quick_xml::Reader<&'a [u8]>,
    depth: usize,
    pending_close: bool,
    line_at: (usize, u64),
}

impl<'a> GuardedXml<'a> {
    /// A reader over `bytes`; refuses invalid UTF-8 with the line of the first bad byte.
    pub fn new(bytes: &'a [u8]) -> Result<GuardedXml<'a>, MigrateError> {
        let input = std::str::from_utf8(bytes).map_err(|e| MigrateError::Malformed {
            line: line_of(bytes, e.valid_up_to()),
            message: "the file is not valid UTF-8".into(),
        })?;
        let mut reader = quick_xml::Reader::from_reader(input.as_bytes());
        reader.config_mut().check_end_names = true;
        Ok(GuardedXml {
            input,
            reader,
            depth: 0,
            pending_close: false,
            line_at: (0, 1),
        })
    }

    /// The line (from 1) of the reader's position; cheap when called with growing positions.
    pub fn line(&mut self) -> u64 {
        let pos = usize::try_from(self.reader.buffer_position())
            .unwrap_or(usize::MAX)
            .min(self.input.len());
        let (from, line) = self.line_at;
        let line = if pos >= from {
            line + count_newlines(&self.input.as_bytes()[from..pos])
        } else {
            1 + count_newlines(&self.input.as_bytes()[..pos])
        };
        self.line_at = (pos, line);
        line
    }

    fn malformed(&mut self, message: impl Into<String>) -> MigrateError {
        MigrateError::Malformed {
            line: self.line(),
            message: message.into(),
        }
    }

    /// The next node, or an error naming the line.
    pub fn next_node(&mut self) -> Result<Node, MigrateError> {
        if self.pending_close {
            self.pending_close = false;
            self.depth -= 1;
            return Ok(Node::Close);
        }
        loop {
            let event = match self.reader.read_event() {
                Ok(e) => e,
                Err(e) => {
                    let pos = usize::try_from(self.reader.error_position()).unwrap_or(0);
                    return Err(MigrateError::Malformed {
                        line: line_of(self.input.as_bytes(), pos),
                        message: e.to_string(),
                    });
                }
            };
            match event {
                Event::Start(_) | Event::Empty(_) if self.depth >= MAX_DEPTH => {
                    return Err(self.malformed(format!(
                        "elements are nested deeper than {MAX_DEPTH} levels"
                    )));
                }
                Event::Start(start) => {
                    self.depth += 1;
                    return self.open(&start);
                }
                Event::Empty(start) => {
                    self.depth += 1;
                    self.pending_close = true;
                    return self.open(&start);
                }
                Event::End(_) => {
                    self.depth = self.depth.saturating_sub(1);
                    return Ok(Node::Close);
                }
                Event::Text(t) => {
                    let text = t.xml10_content();
                    if text.trim().is_empty() && self.depth == 0 {
                        continue;
                    }
                    return self.text(text.into_owned());
                }
                Event::CData(c) => return self.text(c.xml10_content().into_owned()),
                Event::GeneralRef(r) => {
                    let resolved = match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        Ok(None) => match predefined(&r.xml10_content()) {
                            Some(s) => s.to_string(),
                            None => {
                                let name = r.xml10_content().into_owned();
                                return Err(self.malformed(format!(
                                    "the entity &{name}; is not one of XML's five; entities \
                                     are not expanded"
                                )));
                            }
                        },
                        Err(e) => return Err(self.malformed(e.to_string())),
                    };
                    return Ok(Node::Text(resolved));
                }
                Event::DocType(_) => {
                    return Err(self.malformed(
                        "a document type declaration (<!DOCTYPE>) is refused: it is where \
                         entities such as XML bombs are declared, and export files need none",
                    ));
                }
                Event::Eof => {
                    if self.depth > 0 {
                        return Err(self.malformed("the file ends inside an element"));
                    }
                    return Ok(Node::End);
                }
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            }
        }
    }

    fn open(&mut self, start: &quick_xml::events::BytesStart<'_>) -> Result<Node, MigrateError> {
        let name = local(start.name().as_ref());
        let mut attrs = Vec::new();
        for attr in start.attributes() {
            let attr = attr.map_err(|e| self.malformed(e.to_string()))?;
            let value = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| self.malformed(e.to_string()))?;
            attrs.push((local(attr.key.as_ref()), value.into_owned()));
        }
        Ok(Node::Open { name, attrs })
    }

    fn text(&mut self, text: String) -> Result<Node, MigrateError> {
        if text.len() > MAX_TEXT_BYTES {
            return Err(self.malformed(format!(
                "an element holds more than {MAX_TEXT_BYTES} bytes of text"
            )));
        }
        Ok(Node::Text(text))
    }

    /// Reads the text of the element just opened up to its close, refusing child elements.
    pub fn text_until_close(&mut self) -> Result<String, MigrateError> {
        let mut out = String::new();
        loop {
            match self.next_node()? {
                Node::Text(t) => {
                    if out.len() + t.len() > MAX_TEXT_BYTES {
                        return Err(self.malformed(format!(
                            "an element holds more than {MAX_TEXT_BYTES} bytes of text"
                        )));
                    }
                    out.push_str(&t);
                }
                Node::Close => return Ok(out),
                Node::Open { name, .. } => {
                    return Err(self.malformed(format!("unexpected element <{name}> in a value")));
                }
                Node::End => return Err(self.malformed("the file ends inside an element")),
            }
        }
    }

    /// Skips the rest of the element just opened, children included.
    pub fn skip_element(&mut self) -> Result<(), MigrateError> {
        let mut depth = 1usize;
        while depth > 0 {
            match self.next_node()? {
                Node::Open { .. } => depth += 1,
                Node::Close => depth -= 1,
                Node::Text(_) => {}
                Node::End => return Err(self.malformed("the file ends inside an element")),
            }
        }
        Ok(())
    }
}

fn predefined(name: &str) -> Option<&'static str> {
    Some(match name {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        _ => return None,
    })
}

fn local(qname: &str) -> String {
    match qname.rsplit_once(':') {
        Some((_, local)) => local.to_string(),
        None => qname.to_string(),
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|b| **b == b'\n').count() as u64
}

/// The line (from 1) of byte `pos` of `bytes`.
pub fn line_of(bytes: &[u8], pos: usize) -> u64 {
    1 + count_newlines(&bytes[..pos.min(bytes.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(xml: &str) -> Result<Vec<Node>, MigrateError> {
        let mut r = GuardedXml::new(xml.as_bytes())?;
        let mut out = Vec::new();
        loop {
            let n = r.next_node()?;
            if n == Node::End {
                return Ok(out);
            }
            out.push(n);
        }
    }

    fn line_of_error(xml: &[u8]) -> u64 {
        let err = GuardedXml::new(xml)
            .and_then(|mut r| {
                while r.next_node()? != Node::End {}
                Ok(())
            })
            .expect_err("refused");
        match err {
            MigrateError::Malformed { line, .. } => line,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn names_lose_their_prefix_and_text_its_entities_and_cdata() {
        let nodes = all("<a:x b:k=\"v&amp;w\"><![CDATA[<p>]]>&lt;&#65;</a:x>").unwrap();
        assert_eq!(
            nodes,
            vec![
                Node::Open {
                    name: "x".into(),
                    attrs: vec![("k".into(), "v&w".into())]
                },
                Node::Text("<p>".into()),
                Node::Text("<".into()),
                Node::Text("A".into()),
                Node::Close,
            ]
        );
    }

    #[test]
    fn a_billion_laughs_is_refused_at_its_doctype() {
        let bomb = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n]>\n<lolz>&lol2;</lolz>";
        // Reported where the declaration ends.
        assert_eq!(line_of_error(bomb.as_bytes()), 5);
    }

    #[test]
    fn undeclared_entities_deep_nesting_and_bad_utf8_are_refused_with_their_line() {
        assert_eq!(line_of_error(b"<a>\n\n&nbsp;</a>"), 3);
        let deep = format!(
            "{}{}",
            "<a>\n".repeat(MAX_DEPTH + 1),
            "</a>".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(line_of_error(deep.as_bytes()), MAX_DEPTH as u64 + 1);
        assert_eq!(line_of_error(b"<a>\nok\n\xff</a>"), 3);
        assert_eq!(line_of_error(b"<a>\n<b></a>"), 2);
        assert_eq!(line_of_error(b"<a>\n<b>"), 2);
    }
}
