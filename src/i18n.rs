//! The two languages Saring speaks to readers and moderators: Indonesian (the default) and English.

use serde::{Deserialize, Serialize};

/// A language of the user interface and of error messages.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Bahasa Indonesia, the default: the seed site's readers speak it.
    #[default]
    Id,
    /// English.
    En,
}

impl Lang {
    /// Parses a `?lang=` value (`id`, `en`, `en-US`, …); `None` for anything else.
    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "id" | "in" => Some(Lang::Id),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// Chooses from an explicit `?lang=` first, then `Accept-Language` by quality, else Indonesian.
    pub fn negotiate(query: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(lang) = query.and_then(Lang::parse) {
            return lang;
        }
        let Some(header) = accept_language else {
            return Lang::default();
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',').take(16) {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("");
            let q = pieces
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|v| v.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            if let Some(lang) = Lang::parse(tag)
                && q > 0.0
                && best.is_none_or(|(bq, _)| q > bq)
            {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or_default()
    }

    /// Picks the Indonesian or the English text.
    pub fn pick<'a>(self, id: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Id => id,
            Lang::En => en,
        }
    }

    /// The BCP 47 tag.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Id => "id",
            Lang::En => "en",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_wins_over_header() {
        assert_eq!(Lang::negotiate(Some("en"), Some("id")), Lang::En);
        assert_eq!(
            Lang::negotiate(Some("xx"), Some("en-GB,en;q=0.8")),
            Lang::En
        );
    }

    #[test]
    fn header_by_quality_and_default_indonesian() {
        assert_eq!(
            Lang::negotiate(None, Some("fr;q=1, en;q=0.5, id;q=0.9")),
            Lang::Id
        );
        assert_eq!(Lang::negotiate(None, Some("de, fr")), Lang::Id);
        assert_eq!(Lang::negotiate(None, Some("en-US")), Lang::En);
        assert_eq!(Lang::negotiate(None, None), Lang::Id);
    }
}
