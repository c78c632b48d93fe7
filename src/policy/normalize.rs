//! Text normalisation before matching, with a map back to the original text.
//!
//! The order is fixed (and tested below), because each step relies on the one before it:
//!
//! 1. HTML entities decoded and tags removed (a tag becomes a space so `a<br>b` stays two words);
//! 2. Unicode NFKC, per grapheme-like cluster (a starter and its combining marks), which turns
//!    fullwidth, circled, bracketed and mathematical letters into plain ones;
//! 3. zero-width, format, control, variation-selector and stray combining characters removed
//!    (combining underlines and strike-throughs are styling, not letters);
//! 4. look-alike characters folded to their Latin skeleton with `decancer` (Cyrillic `а`, Greek
//!    `ο`, `ɡ`, small capitals ...), keeping whole writing systems such as Korean or Arabic as they
//!    are;
//! 5. case folded (lower case);
//! 6. runs of three or more single letters or digits separated by one space or one punctuation
//!    mark joined (`s l o t`, `g.a.c.o.r`, `m-a-x-w-i-n`);
//! 7. whitespace collapsed and trimmed;
//! 8. leetspeak digits mapped (`sl0t` → `slot`, `m4xw1n` → `maxwin`) in a separate *word view*
//!    used by word and phrase lists only, so that brand patterns such as `garuda88` still see
//!    their digits. Digits are mapped only inside words that also contain a letter, so `2025` or
//!    `Rp 500` are left alone. Because the mapping is one ASCII byte for one ASCII byte, the word
//!    view shares the byte map of the normalised text.
//!
//! Every byte of the normalised text knows the byte range of the original text it came from, so
//! a match can be shown to a moderator on the text the author actually wrote.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::canonical_combining_class;

/// The most bytes of one field that are normalised and matched. Longer text is cut (on a character
/// boundary) for matching, which bounds the cost of one screening; length rules still see the
/// full length.
pub const MAX_SCREENED_BYTES: usize = 16 * 1024;

/// A field's text after normalisation, with the views the matchers use.
#[derive(Debug, Clone)]
pub struct Normalized {
    /// The normalised text (steps 1–7).
    pub text: String,
    /// The word view (step 8): `text` with leetspeak digits mapped; same length as `text`.
    pub words: String,
    /// The original text with only entities/tags decoded, lower-cased and whitespace collapsed:
    /// what a plain, undisguised comment looks like. A rule that matches `text` but not `plain`
    /// matched only because of normalisation.
    pub plain: String,
    /// For each byte of `text`, the start of the original bytes it came from.
    starts: Vec<u32>,
    /// For each byte of `text`, the end of the original bytes it came from.
    ends: Vec<u32>,
}

impl Normalized {
    /// Maps a byte range of `text` (or `words`) back to the byte range of the original text.
    pub fn original_span(&self, start: usize, end: usize) -> Option<(usize, usize)> {
        if start >= end || end > self.starts.len() {
            return None;
        }
        let s = self.starts[start] as usize;
        let e = self.ends[end - 1] as usize;
        (s <= e).then_some((s, e))
    }

    /// Whether the normalised text differs from the plain view at all.
    pub fn changed(&self) -> bool {
        self.text != self.plain
    }
}

/// One character on its way through the steps, with the original byte range it stands for.
#[derive(Clone, Copy)]
struct Piece {
    c: char,
    start: u32,
    end: u32,
}

/// Normalises one field. Pure and bounded: input beyond [`MAX_SCREENED_BYTES`] is ignored.
pub fn normalize(original: &str) -> Normalized {
    let original = truncate(original, MAX_SCREENED_BYTES);
    let (plain, folded) = if original.is_ascii() && !original.contains(['<', '&']) {
        // Plain ASCII without markup: steps 1–5 reduce to dropping controls and lower case.
        let pieces: Vec<Piece> = original
            .bytes()
            .enumerate()
            .map(|(i, b)| Piece {
                c: char::from(b),
                start: i as u32,
                end: i as u32 + 1,
            })
            .collect();
        let plain = plain_view(&pieces);
        let folded = strip_invisible(pieces)
            .into_iter()
            .map(|p| Piece {
                c: p.c.to_ascii_lowercase(),
                ..p
            })
            .collect();
        (plain, folded)
    } else {
        let decoded = decode_html(original);
        let plain = plain_view(&decoded);
        let nfkc = nfkc(&decoded);
        let visible = strip_invisible(nfkc);
        (plain, fold_confusables(visible))
    };
    let joined = join_spaced_letters(folded);
    let collapsed = collapse_whitespace(joined);
    build(collapsed, plain)
}

/// NFKC, invisible characters removed, lower case: the host of a link as its owner meant it.
pub fn fold_width(s: &str) -> String {
    if s.is_ascii() && !s.contains('&') {
        return s.to_ascii_lowercase();
    }
    let decoded = html_escape::decode_html_entities(s);
    decoded
        .nfkc()
        .filter(|c| !is_invisible(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Step 1: entities decoded, tags removed (replaced by one space).
fn decode_html(s: &str) -> Vec<Piece> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let b = bytes[i];
        if b == b'<'
            && let Some(len) = tag_len(&s[i..])
        {
            let (start, end) = (i as u32, (i + len) as u32);
            out.push(Piece { c: ' ', start, end });
            // A link's target is part of what the author posted: keep it visible to link rules.
            if let Some(href) = href(&s[i..i + len]) {
                out.extend(href.chars().map(|c| Piece { c, start, end }));
                out.push(Piece { c: ' ', start, end });
            }
            i += len;
            continue;
        }
        if b == b'&'
            && let Some(len) = entity_len(&s[i..])
        {
            let entity = &s[i..i + len];
            let decoded = html_escape::decode_html_entities(entity);
            if decoded != entity {
                for c in decoded.chars() {
                    out.push(Piece {
                        c,
                        start: i as u32,
                        end: (i + len) as u32,
                    });
                }
                i += len;
                continue;
            }
        }
        // `i` is always on a char boundary: we only advance by whole chars or ASCII-delimited runs.
        let c = s[i..].chars().next().unwrap_or(' ');
        let l = c.len_utf8();
        out.push(Piece {
            c,
            start: i as u32,
            end: (i + l) as u32,
        });
        i += l;
    }
    out
}

/// Length of an HTML tag at the start of `s` (`<br />`, `</a>`, `<a href=...>`), if it is one.
fn tag_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let second = *b.get(1)?;
    if !(second.is_ascii_alphabetic() || second == b'/' || second == b'!') {
        return None;
    }
    // Bounded look-ahead so a stray `<` in a long comment costs little.
    let window = &b[..b.len().min(2048)];
    let close = window.iter().position(|&x| x == b'>')?;
    if window[1..close].contains(&b'<') {
        return None;
    }
    Some(close + 1)
}

/// The `href` value of an anchor tag, entities decoded.
fn href(tag: &str) -> Option<String> {
    let lower = tag.get(..tag.len().min(2048))?.to_ascii_lowercase();
    if !lower.starts_with("<a ") {
        return None;
    }
    let p = lower.find("href=")? + 5;
    let rest = &tag[p..];
    let (quote, rest) = match rest.chars().next()? {
        q @ ('"' | '\'') => (Some(q), &rest[1..]),
        _ => (None, rest),
    };
    let end = rest
        .find(|c: char| Some(c) == quote || (quote.is_none() && (c.is_whitespace() || c == '>')))
        .unwrap_or(rest.len());
    let url = html_escape::decode_html_entities(&rest[..end]).into_owned();
    (!url.is_empty()).then_some(url)
}

/// Length of an entity (`&amp;`, `&#39;`, `&#x27;`) at the start of `s`, if it looks like one.
fn entity_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let end = b.iter().take(34).position(|&x| x == b';')?;
    if end < 2 {
        return None;
    }
    b[1..end]
        .iter()
        .all(|x| x.is_ascii_alphanumeric() || *x == b'#')
        .then_some(end + 1)
}

/// The undisguised view: decoded text, lower case, whitespace collapsed.
fn plain_view(pieces: &[Piece]) -> String {
    let mut out = String::with_capacity(pieces.len());
    let mut space = true;
    for p in pieces {
        if p.c.is_whitespace() {
            if !space {
                out.push(' ');
                space = true;
            }
        } else {
            space = false;
            if p.c.is_ascii() {
                out.push(p.c.to_ascii_lowercase());
            } else {
                out.extend(p.c.to_lowercase());
            }
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// Step 2: NFKC per cluster of a starter and its combining marks.
fn nfkc(pieces: &[Piece]) -> Vec<Piece> {
    let mut out = Vec::with_capacity(pieces.len());
    let mut i = 0;
    let mut cluster = String::new();
    while i < pieces.len() {
        let p = pieces[i];
        if p.c.is_ascii()
            && pieces
                .get(i + 1)
                .is_none_or(|n| n.c.is_ascii() || canonical_combining_class(n.c) == 0)
        {
            out.push(p);
            i += 1;
            continue;
        }
        // Gather the starter and following non-starters (bounded: a zalgo pile stays cheap).
        let mut j = i + 1;
        while j < pieces.len() && j - i < 32 && canonical_combining_class(pieces[j].c) != 0 {
            j += 1;
        }
        let (start, end) = (pieces[i].start, pieces[j - 1].end);
        if j == i + 1 {
            // A lone character: NFKC is its compatibility decomposition when that is one
            // character (styled and fullwidth letters), without building strings.
            let mut one = None;
            let mut count = 0;
            unicode_normalization::char::decompose_compatible(p.c, |d| {
                count += 1;
                one = Some(d);
            });
            if let (1, Some(d)) = (count, one) {
                out.push(Piece { c: d, start, end });
                i = j;
                continue;
            }
        }
        cluster.clear();
        cluster.extend(pieces[i..j].iter().map(|p| p.c));
        let composed: String = cluster.nfkc().collect();
        // Bracketed letters (`⒢`, `🄶`) decompose to `(g)`: the brackets are styling.
        let inner = match composed.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
            Some(inner) if j == i + 1 && !inner.is_empty() && inner.chars().count() <= 2 => inner,
            _ => composed.as_str(),
        };
        for c in inner.chars() {
            out.push(Piece { c, start, end });
        }
        i = j;
    }
    out
}

/// Whether a character is invisible or formatting: removed in step 3.
pub fn is_invisible(c: char) -> bool {
    let u = c as u32;
    matches!(u,
        0x00..=0x08 | 0x0B | 0x0C | 0x0E..=0x1F | 0x7F..=0x9F   // controls (tab/newline/cr kept)
        | 0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180F
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
        | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFFB | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
        | 0xE0000..=0xE0FFF
        // combining marks used as styling over Latin text (underline, strike, overline, zalgo)
        | 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F
        // private use
        | 0xE000..=0xF8FF | 0xF0000..=0x10FFFF
    )
}

/// Step 3: drop invisible characters; other control whitespace becomes a space.
fn strip_invisible(pieces: Vec<Piece>) -> Vec<Piece> {
    pieces
        .into_iter()
        .filter(|p| !is_invisible(p.c))
        .map(|p| {
            if p.c.is_whitespace() {
                Piece { c: ' ', ..p }
            } else {
                p
            }
        })
        .collect()
}

/// Options for decancer: fold Latin look-alikes (Cyrillic, Greek, IPA, small capitals, styled
/// letters), but leave whole writing systems and emoji alone, where folding would only invent
/// Latin letters that were never meant.
fn decancer_options() -> decancer::Options {
    decancer::Options::default()
        .retain_emojis()
        .retain_chinese()
        .retain_japanese()
        .retain_korean()
        .retain_arabic()
        .retain_hebrew()
        .retain_thai()
        .retain_devanagari()
        .retain_bengali()
        .retain_tamil()
        .retain_gujarati()
        .retain_lao()
        .retain_burmese()
        .retain_khmer()
        .retain_mongolian()
        .retain_braille()
}

/// Steps 4 and 5: confusables folded and lower case.
fn fold_confusables(pieces: Vec<Piece>) -> Vec<Piece> {
    let options = decancer_options();
    let mut out = Vec::with_capacity(pieces.len());
    for p in pieces {
        if p.c.is_ascii() {
            out.push(Piece {
                c: p.c.to_ascii_lowercase(),
                ..p
            });
            continue;
        }
        // A Latin letter with diacritics folds to its base letter. Doing this before decancer
        // also avoids its table's mistakes (decancer 3.3 turns `õ` into `r`).
        if let Some(base) = ascii_base(p.c) {
            out.push(Piece { c: base, ..p });
            continue;
        }
        match decancer::cure_char(p.c, options) {
            decancer::Translation::Character(c) => {
                for c in c.to_lowercase() {
                    out.push(Piece { c, ..p });
                }
            }
            decancer::Translation::String(s) => {
                for c in s.chars().flat_map(char::to_lowercase) {
                    out.push(Piece { c, ..p });
                }
            }
            decancer::Translation::None => {}
        }
    }
    out
}

/// The ASCII base letter of a precomposed Latin letter with diacritics (`õ` → `o`, `Ş` → `s`).
fn ascii_base(c: char) -> Option<char> {
    let mut first = None;
    unicode_normalization::char::decompose_canonical(c, |d| {
        first.get_or_insert(d);
    });
    first
        .filter(|b| b.is_ascii_alphabetic() && *b != c)
        .map(|b| b.to_ascii_lowercase())
}

/// Separators allowed between spaced-out letters.
fn is_letter_separator(c: char) -> bool {
    matches!(
        c,
        ' ' | '.' | '-' | '_' | '*' | '|' | ',' | '/' | '~' | '+' | '•' | '·'
    )
}

/// Step 6: join runs of three or more single letters/digits that share one separator.
fn join_spaced_letters(pieces: Vec<Piece>) -> Vec<Piece> {
    let n = pieces.len();
    let alnum = |i: usize| pieces.get(i).is_some_and(|p| p.c.is_alphanumeric());
    let single = |i: usize| alnum(i) && (i == 0 || !alnum(i - 1)) && !alnum(i + 1);
    let mut drop = vec![false; n];
    let mut i = 0;
    while i < n {
        if !single(i) {
            i += 1;
            continue;
        }
        // Extend the run: single, sep, single, sep ... with one separator kind throughout.
        let sep = pieces.get(i + 1).map(|p| p.c);
        let mut last = i;
        let mut count = 1;
        let mut letters = usize::from(pieces[i].c.is_alphabetic());
        if let Some(sep) = sep.filter(|c| is_letter_separator(*c)) {
            while last + 2 < n && pieces[last + 1].c == sep && single(last + 2) {
                last += 2;
                count += 1;
                letters += usize::from(pieces[last].c.is_alphabetic());
            }
        }
        if count >= 3 && letters >= 2 {
            let mut k = i + 1;
            while k < last {
                drop[k] = true;
                k += 2;
            }
        }
        i = last + 1;
    }
    pieces
        .into_iter()
        .zip(drop)
        .filter_map(|(p, d)| (!d).then_some(p))
        .collect()
}

/// Step 7: whitespace runs become one space; leading and trailing whitespace goes.
fn collapse_whitespace(pieces: Vec<Piece>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::with_capacity(pieces.len());
    for p in pieces {
        if p.c.is_whitespace() {
            if out.last().is_none_or(|l| l.c == ' ') {
                continue;
            }
            out.push(Piece { c: ' ', ..p });
        } else {
            out.push(p);
        }
    }
    if out.last().is_some_and(|l| l.c == ' ') {
        out.pop();
    }
    out
}

/// The leetspeak value of an ASCII byte, if it has one.
fn leet(b: u8) -> Option<u8> {
    Some(match b {
        b'0' => b'o',
        b'1' => b'i',
        b'3' => b'e',
        b'4' => b'a',
        b'5' => b's',
        b'7' => b't',
        b'9' => b'g',
        b'@' => b'a',
        b'$' => b's',
        _ => return None,
    })
}

/// Step 8: the word view, leetspeak mapped inside words that contain a letter.
fn word_view(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let mut i = 0;
    while i < bytes.len() {
        let is_part = |b: u8| b.is_ascii_alphanumeric() || b == b'@' || b == b'$';
        if !is_part(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_part(bytes[i]) {
            i += 1;
        }
        let word = &bytes[start..i];
        let has_letter = word.iter().any(u8::is_ascii_alphabetic);
        // Only mixed words are leetspeak; a word after a non-ASCII letter is left alone too.
        let preceded_by_letter = start > 0 && bytes[start - 1] >= 0x80;
        if has_letter && !preceded_by_letter {
            for (k, b) in word.iter().enumerate() {
                if let Some(m) = leet(*b) {
                    out[start + k] = m;
                }
            }
        }
    }
    // Only ASCII bytes were replaced by ASCII bytes, so the result is still UTF-8.
    String::from_utf8(out).unwrap_or_else(|_| text.to_string())
}

fn build(pieces: Vec<Piece>, plain: String) -> Normalized {
    let mut text = String::with_capacity(pieces.len());
    let mut starts = Vec::with_capacity(pieces.len());
    let mut ends = Vec::with_capacity(pieces.len());
    for p in pieces {
        text.push(p.c);
        for _ in 0..p.c.len_utf8() {
            starts.push(p.start);
            ends.push(p.end);
        }
    }
    let words = word_view(&text);
    Normalized {
        text,
        words,
        plain,
        starts,
        ends,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        normalize(s).text
    }

    #[test]
    fn entities_and_tags_first() {
        assert_eq!(n("Tom &amp; Jerry<br />next"), "tom & jerry next");
        assert_eq!(n("don&#39;t"), "don't");
        // An entity that decodes to a tag is text, not a tag: decoding happens once.
        assert_eq!(n("&lt;b&gt;x"), "<b>x");
        assert_eq!(n("a < b and c > d"), "a < b and c > d");
        // Anchor targets stay visible, so a link hidden behind a word is still a link.
        assert_eq!(
            n("<a href=\"http://x.example/?a=1&amp;b=2\">2:19</a> best"),
            "http://x.example/?a=1&b=2 2:19 best"
        );
    }

    #[test]
    fn nfkc_turns_styled_letters_plain() {
        assert_eq!(n("ｇａｒｕｄａ８８"), "garuda88");
        assert_eq!(n("𝐠𝐚𝐫𝐮𝐝𝐚𝟖𝟖"), "garuda88");
        assert_eq!(n("ⓖⓐⓡⓤⓓⓐ"), "garuda");
        assert_eq!(n("⒢⒜⒭⒰⒟⒜"), "garuda");
    }

    #[test]
    fn invisible_characters_go() {
        assert_eq!(n("sl\u{200B}ot ga\u{200D}cor\u{FEFF}"), "slot gacor");
        assert_eq!(n("s̲l̲o̲t̲"), "slot");
        assert_eq!(n("a\u{0000}b"), "ab");
    }

    #[test]
    fn confusables_fold_to_latin_but_scripts_stay() {
        assert_eq!(n("ɡаrudа88 Сasino"), "garuda88 casino");
        assert_eq!(n("ᴍᴀxᴡɪɴ"), "maxwin");
        assert_eq!(n("강남스타일"), "강남스타일");
        assert_eq!(n("😀 ok"), "😀 ok");
        // Diacritics go to the base letter (decancer alone turns `õ` into `r`).
        assert_eq!(n("São João, Õ, Ş"), "sao joao, o, s");
    }

    #[test]
    fn spaced_letters_are_joined() {
        assert_eq!(n("s l o t  g.a.c.o.r"), "slot gacor");
        assert_eq!(n("m-a-x-w-i-n hari ini"), "maxwin hari ini");
        // Two single letters are ordinary text.
        assert_eq!(n("a b testing"), "a b testing");
        // Numbers alone are not words.
        assert_eq!(n("1 2 3 4"), "1 2 3 4");
    }

    #[test]
    fn whitespace_collapses() {
        assert_eq!(n("  a \n\t  lot   of\u{00A0}space  "), "a lot of space");
    }

    #[test]
    fn word_view_maps_leetspeak_only_in_words() {
        let x = normalize("sl0t g4c0r m4xw1n 2025 Rp 500");
        assert_eq!(x.words, "slot gacor maxwin 2025 rp 500");
        assert_eq!(x.text, "sl0t g4c0r m4xw1n 2025 rp 500");
        assert_eq!(x.words.len(), x.text.len());
    }

    #[test]
    fn order_matters_and_is_fixed() {
        // Entities before NFKC: `&#65313;` is a fullwidth A that NFKC must still see.
        assert_eq!(n("&#65313;&#65314;"), "ab");
        // Invisible removal before joining: zero-width joiners between spaced letters.
        assert_eq!(n("s\u{200B} l o t"), "slot");
        // Confusable folding before joining: Cyrillic letters spaced out.
        assert_eq!(n("с л о т"), n("с л о т"));
        assert_eq!(n("ѕ l о t"), "slot");
    }

    #[test]
    fn spans_point_into_the_original() {
        let original = "Ayo 𝐠𝐚𝐫𝐮𝐝𝐚𝟖𝟖 &amp; menang";
        let x = normalize(original);
        let start = x.text.find("garuda88").unwrap();
        let (s, e) = x.original_span(start, start + 8).unwrap();
        assert_eq!(&original[s..e], "𝐠𝐚𝐫𝐮𝐝𝐚𝟖𝟖");
        let amp = x.text.find('&').unwrap();
        let (s, e) = x.original_span(amp, amp + 1).unwrap();
        assert_eq!(&original[s..e], "&amp;");
    }

    #[test]
    fn plain_view_is_undisguised() {
        let x = normalize("SLOT  Gacor&amp;");
        assert_eq!(x.plain, "slot gacor&");
        assert!(!x.changed());
        assert!(normalize("sl\u{200B}ot").changed());
    }

    #[test]
    fn truncation_is_on_a_char_boundary() {
        let s = "é".repeat(MAX_SCREENED_BYTES);
        let t = truncate(&s, MAX_SCREENED_BYTES + 1);
        assert!(t.len() <= MAX_SCREENED_BYTES + 1);
    }
}
