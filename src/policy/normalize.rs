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
        // Plain ASCII without markup: steps 1–5 reduce to dropping controls and lower case,
        // done here in one pass over the bytes (the same pieces `strip_invisible` and the
        // lower-casing would give).
        let plain = plain_view_ascii(original);
        let folded = original
            .bytes()
            .enumerate()
            .filter(|&(_, b)| !is_invisible(char::from(b)))
            .map(|(i, b)| Piece {
                c: if b.is_ascii_whitespace() || b == 0x0B {
                    ' '
                } else {
                    char::from(b.to_ascii_lowercase())
                },
                start: i as u32,
                end: i as u32 + 1,
            })
            .collect();
        (plain, folded)
    } else {
        let decoded = decode_html(original);
        let plain = plain_view(&decoded);
        // Steps 2–5 in one pass when no regional indicator needs the look at its neighbours
        // that `fold_confusables` makes; otherwise step by step.
        let folded = fold_pieces(&decoded)
            .unwrap_or_else(|| fold_confusables(strip_invisible(nfkc(&decoded))));
        (plain, folded)
    };
    let joined = join_spaced_letters(folded);
    build_collapsed(joined, plain)
}

/// Whether a character is a regional indicator (the letters flags are spelled in).
fn is_regional_indicator(c: char) -> bool {
    matches!(c as u32, 0x1F1E6..=0x1F1FF)
}

/// Steps 2–5 (NFKC, invisible characters, confusables, lower case) of decoded pieces in one
/// pass, the same pieces as `fold_confusables(strip_invisible(nfkc(pieces)))`: each cluster
/// NFKC reads is cut out the same way and goes through the same steps, and every step after
/// NFKC treats a piece on its own except the regional-indicator runs, so text with a regional
/// indicator is left to the step-by-step path (`None`).
fn fold_pieces(pieces: &[Piece]) -> Option<Vec<Piece>> {
    if pieces.iter().any(|p| is_regional_indicator(p.c)) {
        return None;
    }
    let options = decancer_options();
    let mut out = Vec::with_capacity(pieces.len());
    let mut i = 0;
    while i < pieces.len() {
        let p = pieces[i];
        // No combining mark follows: NFKC reads this character alone.
        let alone = pieces
            .get(i + 1)
            .is_none_or(|n| n.c.is_ascii() || canonical_combining_class(n.c) == 0);
        if alone && p.c.is_ascii() {
            if !is_invisible(p.c) {
                let c = if p.c.is_whitespace() {
                    ' '
                } else {
                    p.c.to_ascii_lowercase()
                };
                out.push(Piece { c, ..p });
            }
            i += 1;
            continue;
        }
        if alone && let Some(b) = styled_ascii(p.c) {
            out.push(Piece {
                c: char::from(b),
                ..p
            });
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < pieces.len() && j - i < 32 && canonical_combining_class(pieces[j].c) != 0 {
            j += 1;
        }
        let composed = nfkc(&pieces[i..j]);
        if composed.iter().any(|p| is_regional_indicator(p.c)) {
            return None;
        }
        for p in strip_invisible(composed) {
            fold_one(p, options, &mut out);
        }
        i = j;
    }
    Some(out)
}

/// First code point of each range in [`STYLED_ASCII`]: mathematical alphanumerics, then the
/// fullwidth forms.
const MATH_START: u32 = 0x1D400;
const MATH_LEN: u32 = 0x400;
const WIDE_START: u32 = 0xFF00;
const WIDE_LEN: u32 = 0x60;

/// For the styled letters and digits promoters write in, what steps 2–5 make of one standing
/// alone (0 where that is not one visible ASCII character). Filled on first use from the same
/// NFKC decomposition and folding the general path uses, so a look-up here and the general
/// path cannot disagree; it only saves the decomposition per character.
static STYLED_ASCII: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();

/// The ASCII character a lone styled letter or digit folds to, from [`STYLED_ASCII`].
fn styled_ascii(c: char) -> Option<u8> {
    let u = c as u32;
    let index = match u {
        MATH_START..0x1D800 => u - MATH_START,
        WIDE_START..0xFF60 => MATH_LEN + (u - WIDE_START),
        _ => return None,
    };
    let table = STYLED_ASCII.get_or_init(|| {
        (MATH_START..MATH_START + MATH_LEN)
            .chain(WIDE_START..WIDE_START + WIDE_LEN)
            .map(|u| char::from_u32(u).map_or(0, styled_ascii_slow))
            .collect()
    });
    table.get(index as usize).copied().filter(|&b| b != 0)
}

/// What [`nfkc`] of a lone character, then [`strip_invisible`] and [`fold_confusables`], give
/// when that is one visible ASCII character other than a space (as a byte; 0 otherwise).
fn styled_ascii_slow(c: char) -> u8 {
    let piece = Piece {
        c,
        start: 0,
        end: 1,
    };
    let folded = fold_confusables(strip_invisible(nfkc(&[piece])));
    match folded.as_slice() {
        [one] if one.c.is_ascii() && !one.c.is_whitespace() && one.c != '\0' => one.c as u8,
        _ => 0,
    }
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

/// [`plain_view`] of an ASCII text without markup, read from its bytes.
fn plain_view_ascii(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = true;
    for b in s.bytes() {
        // `char::is_whitespace` on ASCII: space, tab, newline, vertical tab, form feed, return.
        if b.is_ascii_whitespace() || b == 0x0B {
            if !space {
                out.push(' ');
                space = true;
            }
        } else {
            space = false;
            out.push(char::from(b.to_ascii_lowercase()));
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
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
#[inline]
pub fn is_invisible(c: char) -> bool {
    let u = c as u32;
    // ASCII (most characters): only the controls, tab, newline and carriage return kept.
    if u < 0x80 {
        return matches!(u, 0x00..=0x08 | 0x0B | 0x0C | 0x0E..=0x1F | 0x7F);
    }
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
    // Regional indicators are emoji to decancer. Two of them are a flag (🇮🇩); a run of three or
    // more (the invisible joiners between them are gone by now) is a word spelled in them.
    let is_ri = |c: char| matches!(c as u32, 0x1F1E6..=0x1F1FF);
    let mut ri_run = vec![false; pieces.len()];
    let mut i = 0;
    while i < pieces.len() {
        let start = i;
        while i < pieces.len() && is_ri(pieces[i].c) {
            i += 1;
        }
        if i - start >= 3 {
            ri_run[start..i].fill(true);
        }
        i = i.max(start + 1);
    }
    for (p, in_ri_run) in pieces.into_iter().zip(ri_run) {
        if in_ri_run {
            let c = char::from(b'a' + (p.c as u32 - 0x1F1E6) as u8);
            out.push(Piece { c, ..p });
            continue;
        }
        fold_one(p, options, &mut out);
    }
    out
}

/// Steps 4 and 5 for one piece outside a run of regional indicators.
fn fold_one(p: Piece, options: decancer::Options, out: &mut Vec<Piece>) {
    if p.c.is_ascii() {
        out.push(Piece {
            c: p.c.to_ascii_lowercase(),
            ..p
        });
        return;
    }
    // A Latin letter with diacritics folds to its base letter. Doing this before decancer
    // also avoids its table's mistakes (decancer 3.3 turns `õ` into `r`).
    if let Some(base) = ascii_base(p.c) {
        out.push(Piece { c: base, ..p });
        return;
    }
    // Negative squared letters (🅰 🅱 🅾 🅿 ...) are emoji to decancer, which keeps emoji.
    if let u @ 0x1F170..=0x1F189 = p.c as u32 {
        let c = char::from(b'a' + (u - 0x1F170) as u8);
        out.push(Piece { c, ..p });
        return;
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

/// Whether a character is part of a word for the joining step. Hangul vowel jamo (`ᆢ`) are
/// letters to Unicode, but in Latin text they are only used as dots between spelled-out letters
/// (`ᆢAᆢᆢLᆢᆢEᆢ`); Korean itself is written in precomposed syllables.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() && !matches!(c as u32, 0x1100..=0x11FF | 0x3130..=0x318F)
}

/// Most characters between two spelled-out letters (`A . L`, `ᆢᆢ`, `】【`).
const MAX_SEPARATOR: usize = 3;

/// Brackets promoters put around single letters (`【A】【L】`, `(A)(L)`): fullwidth ones are
/// already ASCII after NFKC. Neither NFKC nor decancer removes them, hence this short table.
fn closing_bracket(open: char) -> Option<char> {
    Some(match open {
        '(' => ')',
        '[' => ']',
        '{' => '}',
        '<' => '>',
        '【' => '】',
        '「' => '」',
        '『' => '』',
        '〔' => '〕',
        '《' => '》',
        '〈' => '〉',
        '〖' => '〗',
        '〘' => '〙',
        '〚' => '〛',
        '⟦' => '⟧',
        '⟨' => '⟩',
        '❨' => '❩',
        '❪' => '❫',
        '❬' => '❭',
        '❮' => '❯',
        '❰' => '❱',
        '⦅' => '⦆',
        '⁅' => '⁆',
        _ => return None,
    })
}

/// Step 6a: brackets around single letters or digits dropped when at least three such groups
/// follow each other (`【A】【L】【E】`, `(s) (l) (o) (t)`); one `(a)` list marker stays.
fn drop_letter_brackets(pieces: Vec<Piece>) -> Vec<Piece> {
    let n = pieces.len();
    // The group starting at `i`: open bracket, one ASCII letter or digit, its closing bracket.
    let group = |i: usize| {
        // Letters, digits and spaces open no bracket: most pieces are answered by that alone.
        i + 2 < n
            && !(pieces[i].c.is_ascii_alphanumeric() || pieces[i].c == ' ')
            && pieces[i + 1].c.is_ascii_alphanumeric()
            && closing_bracket(pieces[i].c) == Some(pieces[i + 2].c)
    };
    // Most texts have no bracketed letter at all: nothing to drop, nothing to copy.
    let Some(first) = (0..n).find(|&i| group(i)) else {
        return pieces;
    };
    let mut drop = vec![false; n];
    let mut i = first;
    while i < n {
        if !group(i) {
            i += 1;
            continue;
        }
        // Extend: groups directly adjacent or separated by one space.
        let mut starts = vec![i];
        let mut j = i + 3;
        loop {
            if group(j) {
                starts.push(j);
                j += 3;
            } else if j < n && pieces[j].c == ' ' && group(j + 1) {
                starts.push(j + 1);
                j += 4;
            } else {
                break;
            }
        }
        if starts.len() >= 3 {
            for s in &starts {
                drop[*s] = true;
                drop[*s + 2] = true;
            }
        }
        i = j;
    }
    pieces
        .into_iter()
        .zip(drop)
        .filter_map(|(p, d)| (!d).then_some(p))
        .collect()
}

/// Step 6b: join runs of three or more single letters/digits that share one separator (one to
/// three characters, the same throughout: `s l o t`, `g.a.c.o.r`, `⭐ A L E X I S 1 7 ⭐`,
/// `AᆢᆢLᆢᆢE`). A group of two to four digits right after such a run joins it too
/// (`J P T O G E L 77`), as brand names end in digits.
fn join_spaced_letters(pieces: Vec<Piece>) -> Vec<Piece> {
    let pieces = drop_letter_brackets(pieces);
    let n = pieces.len();
    // Each piece is asked whether it is a word character several times: once is enough.
    let is_word: Vec<bool> = pieces.iter().map(|p| is_word_char(p.c)).collect();
    let word = |i: usize| is_word.get(i).copied().unwrap_or(false);
    let single = |i: usize| {
        pieces.get(i).is_some_and(|p| p.c.is_ascii_alphanumeric())
            && (i == 0 || !word(i - 1))
            && !word(i + 1)
    };
    // The separator after the single at `i`: its length, if 1..=MAX_SEPARATOR separator
    // characters lead to another single.
    let sep_after = |i: usize| -> Option<usize> {
        (1..=MAX_SEPARATOR).find(|&len| {
            i + len + 1 < n
                // Any character that is not part of a word may separate spelled-out letters
                // (space, punctuation, symbol, emoji, a jamo used as a dot).
                && (1..=len).all(|k| !is_word[i + k])
                && single(i + len + 1)
        })
    };
    let same_sep =
        |a: usize, b: usize, len: usize| (1..=len).all(|k| pieces[a + k].c == pieces[b + k].c);
    let mut drop = vec![false; n];
    let mut i = 0;
    while i < n {
        if !single(i) {
            i += 1;
            continue;
        }
        let Some(len) = sep_after(i) else {
            i += 1;
            continue;
        };
        // Extend the run: single, sep, single, sep ... with the same separator throughout.
        let mut members = vec![i];
        let mut last = i;
        while sep_after(last) == Some(len) && same_sep(i, last, len) {
            last += len + 1;
            members.push(last);
        }
        let letters = members
            .iter()
            .filter(|&&m| pieces[m].c.is_ascii_alphabetic())
            .count();
        if members.len() >= 3 && letters >= 2 {
            for &m in &members[..members.len() - 1] {
                for k in 1..=len {
                    drop[m + k] = true;
                }
            }
            // A trailing group of 2–4 digits after the same separator.
            let d = last + len + 1;
            if d < n && same_sep(i, last, len) && (1..=len).all(|k| last + k < n) {
                let mut e = d;
                while e < n && pieces[e].c.is_ascii_digit() {
                    e += 1;
                }
                if (2..=4).contains(&(e - d)) && !word(e) && (d == 0 || !word(d - 1)) {
                    for k in 1..=len {
                        drop[last + k] = true;
                    }
                }
            }
        }
        i = last + 1;
    }
    if !drop.contains(&true) {
        return pieces;
    }
    pieces
        .into_iter()
        .zip(drop)
        .filter_map(|(p, d)| (!d).then_some(p))
        .collect()
}

/// Step 7: whitespace runs become one space; leading and trailing whitespace goes. (The
/// screening does this inside [`build_collapsed`]; kept as the reference it is tested against.)
#[cfg(test)]
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

/// How one original character inside a word was written, for [`disguised_word`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    /// A plain Latin letter or digit (accents included).
    Plain,
    /// A styled letter of one alphabet (mathematical bold, fullwidth, circled ...), numbered.
    Styled(u16),
    /// A styled character that fills holes in several alphabets (letterlike symbols such as
    /// `ℬ` or `ℓ` complete the mathematical script and double-struck alphabets).
    Filler,
    /// A Cyrillic, Greek, Armenian or Cherokee letter: a look-alike inside a Latin word.
    Foreign,
    /// Anything else that is a letter (another writing system).
    Other,
}

/// The style of a letter or digit. The numbering follows the Unicode blocks the styled
/// alphabets live in; neither `decancer` nor `unicode-normalization` says which alphabet a
/// character came from (they only fold it), and mixing alphabets inside one word is the
/// promoters' signature, hence this small table.
fn style_of(c: char) -> Style {
    use unicode_script::{Script, UnicodeScript};
    let u = c as u32;
    match u {
        _ if c.is_ascii_alphanumeric() => Style::Plain,
        // Mathematical letters: 52 per alphabet (A–Z, a–z), Greek ones after them.
        0x1D400..=0x1D6A3 => Style::Styled(1 + ((u - 0x1D400) / 52) as u16),
        0x1D6A4..=0x1D7CB => Style::Styled(40),
        // Mathematical digits (bold, double-struck, sans, sans bold, monospace): any alphabet.
        0x1D7CE..=0x1D7FF => Style::Filler,
        0xFF10..=0xFF19 | 0xFF21..=0xFF3A | 0xFF41..=0xFF5A => Style::Styled(50),
        0x2460..=0x249B | 0x24EA..=0x24FF => Style::Filler, // circled and bracketed digits
        0x249C..=0x24B5 | 0x1F110..=0x1F129 => Style::Styled(51), // parenthesised letters
        0x24B6..=0x24E9 => Style::Styled(52),               // circled letters
        0x1F130..=0x1F149 => Style::Styled(53),             // squared letters
        0x1F150..=0x1F169 => Style::Styled(54),             // negative circled letters
        0x1F170..=0x1F189 => Style::Styled(55),             // negative squared letters
        0x1F1E6..=0x1F1FF => Style::Styled(56),             // regional indicators
        // Small capitals and the IPA letters used as the missing ones (ʙ ɪ ʜ ʀ ɢ ʟ ɴ ʏ).
        // (Only those: other IPA letters such as the schwa `ə` are letters of real alphabets.)
        0x1D00..=0x1D2B
        | 0x0262
        | 0x026A
        | 0x0274
        | 0x0276
        | 0x0280
        | 0x0281
        | 0x028F
        | 0x0299
        | 0x029B
        | 0x029C
        | 0x029F
        | 0xA730..=0xA7FF => Style::Styled(SMALL_CAPITALS),
        // Superscript and subscript letters.
        0x1D2C..=0x1D6A | 0x2070..=0x209C | 0x02B0..=0x02FF => Style::Styled(58),
        0x2100..=0x214F => Style::Filler,
        _ => match c.script() {
            Script::Latin => Style::Plain,
            Script::Cyrillic | Script::Greek | Script::Armenian | Script::Cherokee => {
                Style::Foreign
            }
            _ => Style::Other,
        },
    }
}

/// The style number of small capitals.
const SMALL_CAPITALS: u16 = 57;

/// Combining marks drawn over or under a letter as decoration (underline, double underline,
/// strike-through, slash overlay).
fn is_styling_mark(c: char) -> bool {
    matches!(
        c as u32,
        0x0305 | 0x0331..=0x0338 | 0x035F | 0x0347 | 0x20D2 | 0x20E5 | 0x20EB
    )
}

/// What the original characters behind one normalised word show.
#[derive(Default)]
struct WordShape {
    /// Letters or digits in a styled alphabet (or decorated with a styling mark).
    styled: usize,
    /// Plain Latin letters.
    plain_letters: usize,
    /// Of those, lower-case `s`, `x` and `q`: small capitals have none (ꜱ is rare), so readers
    /// who write in small capitals type these plain.
    plain_sxq: usize,
    /// Plain digits, and styled ones.
    plain_digits: usize,
    styled_digits: usize,
    /// The styled alphabets seen among the letters.
    alphabets: Vec<u16>,
    /// Cyrillic or Greek look-alikes.
    foreign: usize,
    /// Letters of another writing system.
    other: usize,
    /// Separators between the letters (the word was spelled out or bracketed).
    separated: bool,
    /// Letters in the normalised word.
    letters: usize,
    /// Digits in the normalised word.
    digits: usize,
}

impl WordShape {
    fn read(original: &str, normalised: &str) -> WordShape {
        let mut w = WordShape {
            letters: normalised.bytes().filter(u8::is_ascii_alphabetic).count(),
            digits: normalised.bytes().filter(u8::is_ascii_digit).count(),
            ..WordShape::default()
        };
        let mut prev_alnum = false;
        for c in original.chars() {
            if is_styling_mark(c) {
                // The mark decorates the letter before it.
                if prev_alnum {
                    w.styled += 1;
                    w.plain_letters = w.plain_letters.saturating_sub(1);
                }
                continue;
            }
            if is_invisible(c) {
                continue;
            }
            if !c.is_alphanumeric() {
                w.separated |= prev_alnum;
                prev_alnum = false;
                continue;
            }
            prev_alnum = true;
            let digit = c.is_numeric();
            match style_of(c) {
                Style::Plain if digit => w.plain_digits += 1,
                Style::Plain => {
                    w.plain_letters += 1;
                    w.plain_sxq += usize::from(matches!(c, 's' | 'x' | 'q'));
                }
                Style::Styled(_) | Style::Filler if digit => w.styled_digits += 1,
                Style::Styled(a) => {
                    w.styled += 1;
                    if !w.alphabets.contains(&a) {
                        w.alphabets.push(a);
                    }
                }
                Style::Filler => w.styled += 1,
                Style::Foreign => w.foreign += 1,
                Style::Other => w.other += 1,
            }
        }
        w
    }

    /// Written in two or more alphabets: styled with plain, two styled alphabets, Latin with a
    /// Cyrillic or Greek look-alike, or plain letters with styled digits (and the reverse).
    fn mixed(&self) -> bool {
        let styled_letters = self.styled > 0;
        let plain_letters = if self.alphabets == [SMALL_CAPITALS] {
            self.plain_letters - self.plain_sxq.min(self.plain_letters)
        } else {
            self.plain_letters
        };
        let kinds = usize::from(plain_letters > 0)
            + usize::from(styled_letters)
            + usize::from(self.foreign > 0);
        kinds >= 2
            || self.alphabets.len() >= 2
            || (plain_letters > 0 && self.styled_digits > 0 && self.plain_digits == 0)
            || (styled_letters && self.plain_digits > 0 && self.styled_digits == 0)
    }

    /// Plain Latin, written as one piece.
    fn plain(&self) -> bool {
        self.styled == 0
            && self.styled_digits == 0
            && self.foreign == 0
            && self.other == 0
            && !self.separated
            && self.plain_letters >= 3
    }
}

/// The original span of the first word of at least `min` letters and digits in `n` (the
/// normalisation of `original`) that was disguised, if any:
///
/// - written in a mix of alphabets (`A𝙂𝘜𝐒𝘛𝐎𝙏О`, `mcb𝟏𝟔𝟖`, `gаruda` with a Cyrillic `а`);
/// - spelled out or bracketed one letter at a time, with digits in it (`⭐ A L E X I S 1 7 ⭐`,
///   `【A】【L】【E】【X】`), or styled as well (`𝐉 𝐏 𝐓 𝐎 𝐆 𝐄 𝐋`);
/// - written in styled letters while the rest of the text is plain (`Parah! 𝐕𝐈𝐒𝐈𝟒𝐃 bikin
///   nagih`): one styled name in a plain sentence is the brand being pushed, whereas a reader
///   who likes a font writes the whole comment in it.
///
/// Pure; linear in the text.
pub fn disguised_word(original: &str, n: &Normalized, min: usize) -> Option<(usize, usize)> {
    disguises(original, n, min).disguised
}

/// Like [`disguised_word`], but only the strong disguises: a mix of alphabets in one word, or
/// a word spelled out with digits or styling. One styled word in a plain sentence (which a
/// reader may write for emphasis) does not count.
pub fn mixed_word(original: &str, n: &Normalized, min: usize) -> Option<(usize, usize)> {
    disguises(original, n, min).mixed
}

/// What [`disguised_word`] and [`mixed_word`] find in one text, from one reading of it: the
/// screening asks both, and reading each word's original characters is the costly part.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Disguises {
    /// [`disguised_word`]'s answer.
    pub disguised: Option<(usize, usize)>,
    /// [`mixed_word`]'s answer.
    pub mixed: Option<(usize, usize)>,
}

/// The byte ranges of the runs of ASCII letters and digits in `text`, in order: the words of
/// the disguise search and of the model's ASCII tokens. Bytes of other characters are never
/// ASCII, so this is also right on text that is not all ASCII.
pub(crate) fn ascii_alnum_runs(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() && !bytes[i].is_ascii_alphanumeric() {
            i += 1;
        }
        if i == bytes.len() {
            return None;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
            i += 1;
        }
        Some((start, i))
    })
}

/// [`disguised_word`] and [`mixed_word`] of the same text and `min`, in one pass. Both take the
/// first word that qualifies; the styled-island answer can come before the first mixed word,
/// so the pass goes on after it until the mixed one is found too.
pub fn disguises(original: &str, n: &Normalized, min: usize) -> Disguises {
    let mut island = None;
    let mut disguised = None;
    let mut plain_words = 0usize;
    // Promoters repeat their brand word for word: what a word's original characters said is
    // kept, so a repeated word is compared rather than read again. The class is a function of
    // the original word, the normalised word and `min` alone.
    let mut seen: Vec<(&str, &str, WordClass)> = Vec::new();
    for (start, i) in ascii_alnum_runs(&n.text) {
        // A word glued to a letter of another writing system is not a Latin word (an emoji
        // next to it is fine: promoters frame brands with them).
        let before = n.text[..start].chars().next_back();
        let after = n.text[i..].chars().next();
        if before.is_some_and(char::is_alphanumeric) || after.is_some_and(char::is_alphanumeric) {
            continue;
        }
        let Some((s, e)) = n.original_span(start, i) else {
            continue;
        };
        // Text from inside an HTML tag or entity maps to the whole tag: its shape says nothing.
        let Some(orig) = original.get(s..e).filter(|o| !o.contains(['<', '&'])) else {
            continue;
        };
        let word = &n.text[start..i];
        let class = if orig.bytes().all(|b| b.is_ascii_alphanumeric()) {
            // Typed as plain ASCII letters and digits in one piece (most words): no styling,
            // no separator, one alphabet, so `WordShape` could only call it plain (three
            // letters or more) or nothing. Said here without reading it character by
            // character.
            if orig.bytes().filter(u8::is_ascii_alphabetic).count() < 3 {
                continue;
            }
            WordClass::Plain
        } else if let Some(&(_, _, c)) = seen.iter().find(|(o, w, _)| *o == orig && *w == word) {
            c
        } else {
            let c = WordClass::of(&WordShape::read(orig, word), i - start, min);
            if seen.len() < MAX_SEEN_WORDS {
                seen.push((orig, word, c));
            }
            c
        };
        match class {
            WordClass::Plain => {
                plain_words += 1;
                // A styled island followed by a plain word: the island is the disguised word.
                if disguised.is_none() {
                    disguised = island;
                }
            }
            WordClass::Ignored => {}
            WordClass::Mixed => {
                return Disguises {
                    disguised: disguised.or(Some((s, e))),
                    mixed: Some((s, e)),
                };
            }
            WordClass::Styled => {
                if island.is_none() && disguised.is_none() {
                    if plain_words > 0 {
                        disguised = Some((s, e));
                    } else {
                        island = Some((s, e));
                    }
                }
            }
        }
    }
    Disguises {
        disguised,
        mixed: None,
    }
}

/// Most distinct disguised-looking words whose class [`disguises`] keeps for repeats.
const MAX_SEEN_WORDS: usize = 16;

/// What one word is to [`disguises`].
#[derive(Clone, Copy)]
enum WordClass {
    /// Plain Latin written as one piece.
    Plain,
    /// Too short, too few letters, or of another writing system: not looked at.
    Ignored,
    /// A strong disguise: alphabets mixed, or spelled out with digits or styling.
    Mixed,
    /// Two or more styled letters, and no more: a styled island.
    Styled,
}

impl WordClass {
    /// The class of a word (`len` bytes in the normalised text) from its shape.
    fn of(shape: &WordShape, len: usize, min: usize) -> WordClass {
        if shape.plain() {
            return WordClass::Plain;
        }
        if len < min || shape.letters < 2 || shape.other > 0 {
            return WordClass::Ignored;
        }
        let spelled =
            shape.separated && shape.letters >= 3 && (shape.digits > 0 || shape.styled > 0);
        if shape.mixed() || spelled {
            WordClass::Mixed
        } else if shape.styled >= 2 {
            WordClass::Styled
        } else {
            WordClass::Ignored
        }
    }
}

/// Step 7 and the views: `build(collapse_whitespace(pieces), plain)` without the copy of the
/// pieces in between.
fn build_collapsed(pieces: Vec<Piece>, plain: String) -> Normalized {
    let mut text = String::with_capacity(pieces.len() + pieces.len() / 2);
    let mut starts = Vec::with_capacity(text.capacity());
    let mut ends = Vec::with_capacity(text.capacity());
    for p in pieces {
        let c = if p.c.is_whitespace() {
            // Collapsed pieces are ' ' only where whitespace was: no space at the start, none
            // after another.
            if text.is_empty() || text.ends_with(' ') {
                continue;
            }
            ' '
        } else {
            p.c
        };
        text.push(c);
        for _ in 0..c.len_utf8() {
            starts.push(p.start);
            ends.push(p.end);
        }
    }
    if text.ends_with(' ') {
        text.pop();
        starts.pop();
        ends.pop();
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
    use proptest::strategy::Strategy as _;

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
    fn letters_spelled_with_longer_separators_or_brackets_are_joined() {
        assert_eq!(
            n("nyata di ⭐ A L E X I S 1 7 ⭐ lekk"),
            "nyata di ⭐ alexis17 ⭐ lekk"
        );
        assert_eq!(n("【A】【L】【E】【X】"), "alex");
        assert_eq!(n("(s) (l) (o) (t)"), "slot");
        assert_eq!(n("AᆢᆢLᆢᆢEᆢᆢXᆢᆢ1ᆢᆢ7ᆢ"), "alex17ᆢ");
        assert_eq!(n("A . L . E . X"), "alex");
        assert_eq!(n("𝐉 𝐏 𝐓 𝐎 𝐆 𝐄 𝐋 𝟕𝟕"), "jptogel77");
        // One list marker and ordinary words stay as they are.
        assert_eq!(n("(a) pilih yang benar"), "(a) pilih yang benar");
        assert_eq!(n("skor 2 - 1 untuk persib"), "skor 2 - 1 untuk persib");
    }

    #[test]
    fn every_styled_alphabet_decodes() {
        for s in [
            "𝐚𝐥𝐞𝐱",
            "𝑎𝑙𝑒𝑥",
            "𝒂𝒍𝒆𝒙",
            "𝒶𝓁𝑒𝓍",
            "𝓪𝓵𝓮𝔁",
            "𝔞𝔩𝔢𝔵",
            "𝖆𝖑𝖊𝖝",
            "𝕒𝕝𝕖𝕩",
            "𝖺𝗅𝖾𝗑",
            "𝗮𝗹𝗲𝘅",
            "𝘢𝘭𝘦𝘹",
            "𝙖𝙡𝙚𝙭",
            "𝚊𝚕𝚎𝚡",
            "ａｌｅｘ",
            "ⓐⓛⓔⓧ",
            "⒜⒧⒠⒳",
            "🄰🄻🄴🅇",
            "🅐🅛🅔🅧",
            "🅰🅻🅴🆇",
            "ᴀʟᴇx",
            "аlех",
            "A̲L̲E̲X̲",
            "A̶L̶E̶X̶",
            "🄐🄛🄔🄧",
        ] {
            assert_eq!(n(s), "alex", "{s}");
        }
        assert_eq!(n("🇦\u{200B}🇱\u{200B}🇪\u{200B}🇽"), "alex");
        // Two regional indicators are a flag, not letters.
        assert_eq!(n("merdeka 🇮🇩"), "merdeka 🇮🇩");
        assert_eq!(n("𝟏𝟕 ①⑦ １７ 𝟙𝟟"), "17 17 17 17");
    }

    fn disguised(s: &str) -> Option<&str> {
        let x = normalize(s);
        disguised_word(s, &x, 4).map(|(a, b)| &s[a..b])
    }

    /// The disguise search as first written, one pass per question; [`disguises`] answers
    /// both questions in one pass and must give the same answers.
    fn find_disguised(
        original: &str,
        n: &Normalized,
        min: usize,
        islands: bool,
    ) -> Option<(usize, usize)> {
        let bytes = n.text.as_bytes();
        let mut island = None;
        let mut plain_words = 0usize;
        let mut i = 0;
        while i < bytes.len() {
            if !bytes[i].is_ascii_alphanumeric() {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                i += 1;
            }
            // A word glued to a letter of another writing system is not a Latin word (an emoji
            // next to it is fine: promoters frame brands with them).
            let before = n.text[..start].chars().next_back();
            let after = n.text[i..].chars().next();
            if before.is_some_and(char::is_alphanumeric) || after.is_some_and(char::is_alphanumeric)
            {
                continue;
            }
            let Some((s, e)) = n.original_span(start, i) else {
                continue;
            };
            // Text from inside an HTML tag or entity maps to the whole tag: its shape says nothing.
            let Some(orig) = original.get(s..e).filter(|o| !o.contains(['<', '&'])) else {
                continue;
            };
            // Typed as plain ASCII letters and digits in one piece (most words): no styling, no
            // separator, one alphabet, so `WordShape` could only call it plain (three letters or
            // more) or nothing. Said here without reading it character by character.
            if orig.bytes().all(|b| b.is_ascii_alphanumeric()) {
                if orig.bytes().filter(u8::is_ascii_alphabetic).count() >= 3 {
                    plain_words += 1;
                    if island.is_some() {
                        return island;
                    }
                }
                continue;
            }
            let shape = WordShape::read(orig, &n.text[start..i]);
            if shape.plain() {
                plain_words += 1;
                if island.is_some() {
                    return island;
                }
                continue;
            }
            if i - start < min || shape.letters < 2 || shape.other > 0 {
                continue;
            }
            let spelled =
                shape.separated && shape.letters >= 3 && (shape.digits > 0 || shape.styled > 0);
            if shape.mixed() || spelled {
                return Some((s, e));
            }
            if islands && shape.styled >= 2 && island.is_none() {
                if plain_words > 0 {
                    return Some((s, e));
                }
                island = Some((s, e));
            }
        }
        None
    }

    #[test]
    fn one_pass_gives_both_answers_of_two() {
        for s in [
            "Parah! 𝐕𝐈𝐒𝐈𝟒𝐃 bikin nagih A𝙂𝘜𝐒𝘛𝐎𝙏О",
            "𝐕𝐈𝐒𝐈𝟒𝐃 𝐆𝐀𝐑𝐔𝐃𝐀 bikin nagih",
            "𝐕𝐈𝐒𝐈𝟒𝐃 A𝙂𝘜𝐒𝘛𝐎𝙏О bikin",
            "saya 𝐕𝐈𝐒𝐈𝟒𝐃 ⭐ A L E X I S 1 7 ⭐",
            "𝐕𝐈𝐒𝐈𝟒𝐃 𝐆𝐀𝐑𝐔𝐃𝐀",
            "plain text only here",
        ] {
            let x = normalize(s);
            for min in [0, 3, 4, 8] {
                assert_eq!(
                    disguises(s, &x, min),
                    Disguises {
                        disguised: find_disguised(s, &x, min, true),
                        mixed: find_disguised(s, &x, min, false),
                    },
                    "{s} {min}"
                );
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        #[test]
        fn one_pass_agrees_with_two_on_any_mix(
            words in proptest::collection::vec(
                proptest::sample::select(vec![
                    "saya", "mcb\u{1d7cf}\u{1d7d4}", "\u{1d415}\u{1d408}\u{1d412}\u{1d408}\u{1d7d2}\u{1d403}",
                    "g\u{430}ruda", "A L E X 1 7", "\u{1d41a}\u{1d41b}", "\u{ff47}\u{ff41}\u{ff52}", "ok",
                    "\u{3010}A\u{3011}\u{3010}L\u{3011}\u{3010}E\u{3011}", "a<b>c", "ru\u{336}si", "\u{d55c}abc",
                ]),
                0..8,
            ),
            min in 0usize..6,
        ) {
            let s = words.join(" ");
            let x = normalize(&s);
            proptest::prop_assert_eq!(
                disguises(&s, &x, min),
                Disguises {
                    disguised: find_disguised(&s, &x, min, true),
                    mixed: find_disguised(&s, &x, min, false),
                }
            );
        }
    }

    /// The normalisation step by step, each step over the whole text, as it was written before
    /// steps 2–5 and step 7 were fused into passes: the reference for the fused ones.
    fn normalize_by_steps(original: &str) -> Normalized {
        let original = truncate(original, MAX_SCREENED_BYTES);
        let decoded = decode_html(original);
        let plain = plain_view(&decoded);
        let folded = fold_confusables(strip_invisible(nfkc(&decoded)));
        build(collapse_whitespace(join_spaced_letters(folded)), plain)
    }

    /// Pieces the steps treat differently: markup, styled and fullwidth letters, combining marks
    /// (styling ones and zalgo), invisible characters, regional indicators (flags and runs),
    /// brackets, look-alikes, accents, other writing systems and every kind of whitespace.
    const PIECES: &[&str] = &[
        "slot",
        "G A C O R",
        "g.a.c.o.r",
        " ",
        "  ",
        "\t",
        "\n",
        "\u{a0}",
        "\u{3000}",
        "88",
        "&amp;",
        "&#65313;",
        "<br>",
        "<a href=\"https://x.example\">",
        "</a>",
        "𝐆𝐀𝐑𝐔𝐃𝐀",
        "𝟖𝟖",
        "𝓢𝓮𝓶𝓪",
        "ｇａｒ",
        "Ａ",
        "ⓐⓑⓒ",
        "⒢",
        "🄶",
        "🅰🅱",
        "ᴀʏᴀɴɢ",
        "ℍℓ",
        "g\u{430}ruda",
        "Москва",
        "é",
        "e\u{301}",
        "ru\u{336}si",
        "P\u{35f}\u{35f}U",
        "a\u{300}\u{301}\u{302}\u{303}",
        "\u{200b}",
        "\u{200d}",
        "\u{feff}",
        "\u{7}",
        "🇮🇩",
        "🇸\u{200d}🇱🇴🇹",
        "🇦",
        "【A】【L】【E】",
        "(s)(l)(o)(t)",
        "한국",
        "ᆢAᆢᆢLᆢ",
        "\u{1d455}",
        "\u{fb01}",
        "㎏",
        "½",
        "\u{e000}",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]

        /// The fused passes give the same text, views and map back to the original as the
        /// steps one after the other, on any mix of what the steps treat differently.
        #[test]
        fn fused_passes_agree_with_the_steps(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(PIECES).prop_map(str::to_string),
                    proptest::char::any().prop_map(String::from),
                ],
                0..24,
            ),
        ) {
            let s: String = parts.concat();
            let fused = normalize(&s);
            let steps = normalize_by_steps(&s);
            proptest::prop_assert_eq!(&fused.text, &steps.text, "{:?}", s);
            proptest::prop_assert_eq!(&fused.words, &steps.words);
            proptest::prop_assert_eq!(&fused.plain, &steps.plain);
            proptest::prop_assert_eq!(&fused.starts, &steps.starts);
            proptest::prop_assert_eq!(&fused.ends, &steps.ends);
        }
    }

    #[test]
    fn styled_ascii_table_matches_the_general_path() {
        for u in (MATH_START..MATH_START + MATH_LEN).chain(WIDE_START..WIDE_START + WIDE_LEN) {
            let c = char::from_u32(u).expect("not a surrogate");
            assert_eq!(
                styled_ascii(c).unwrap_or(0),
                styled_ascii_slow(c),
                "U+{u:X}"
            );
        }
        // The letters styled spam is written in do take the table's path.
        assert_eq!(styled_ascii('𝐆'), Some(b'g'));
        assert_eq!(styled_ascii('𝟖'), Some(b'8'));
        assert_eq!(styled_ascii('ａ'), Some(b'a'));
    }

    #[test]
    fn disguised_words_are_found_on_the_original_text() {
        assert_eq!(disguised("Parah! A𝙂𝘜𝐒𝘛𝐎𝙏О bikin nagih"), Some("A𝙂𝘜𝐒𝘛𝐎𝙏О"));
        assert_eq!(
            disguised("Gacor parah terus menang di mcb𝟏𝟔𝟖"),
            Some("mcb𝟏𝟔𝟖")
        );
        assert_eq!(
            disguised("nyata hasilnya di ⭐ A L E X I S 1 7 ⭐ lekk"),
            Some("A L E X I S 1 7")
        );
        assert_eq!(disguised("SUPER MANTAP SITUS 💚 𝐕𝐈𝐒𝐈𝟒𝐃 💚"), Some("𝐕𝐈𝐒𝐈𝟒𝐃"));
        assert_eq!(disguised("𝐕𝐈𝐒𝐈𝟒𝐃 bikin nagih"), Some("𝐕𝐈𝐒𝐈𝟒𝐃"));
        assert_eq!(disguised("main di gаruda sekarang"), Some("gаruda"));
        assert_eq!(disguised("aura P͟͟U͟͟L͟͟A͟͟U͟͟ berasa"), Some("P͟͟U͟͟L͟͟A͟͟U͟͟"));
        assert_eq!(
            disguised("coba 【A】【L】【E】【X】【1】【7】 aja"),
            Some("A】【L】【E】【X】【1】【7")
        );
    }

    #[test]
    fn mixed_words_leave_out_styled_islands() {
        fn strong(s: &str) -> Option<&str> {
            let x = normalize(s);
            mixed_word(s, &x, 4).map(|(a, b)| &s[a..b])
        }
        assert_eq!(strong("Parah! A𝙂𝘜𝐒𝘛𝐎𝙏О bikin nagih"), Some("A𝙂𝘜𝐒𝘛𝐎𝙏О"));
        assert_eq!(
            strong("nyata di ⭐ A L E X I S 1 7 ⭐"),
            Some("A L E X I S 1 7")
        );
        assert_eq!(strong("Setuju, 𝐁𝐄𝐍𝐀𝐑 sekali"), None);
        assert_eq!(disguised("Setuju, 𝐁𝐄𝐍𝐀𝐑 sekali"), Some("𝐁𝐄𝐍𝐀𝐑"));
    }

    #[test]
    fn ordinary_text_has_no_disguised_word() {
        for s in [
            "Polisi menggerebek markas judi online, #Pilpres2019 sudah lewat",
            "ᴀʏᴀɴɢ ᴍᴏɴᴛᴏᴋ",
            "ᴋᴀᴍᴇʀᴀᴍᴇɴɴʏᴀ ᴛᴇʀsɪᴋsᴀ ʙᴇɴᴇʀ ɪɴɪ",
            "𝓢𝓮𝓶𝓪𝓷𝓰𝓪𝓽 𝓹𝓪𝓰𝓲",
            "Persib menang 2-1, skor 3 : 0 tahun lalu",
            "S E M A N G A T pagi semua",
            "Café di São Paulo enak, Ελλάδα and Москва too",
            "Digər tərəfdən isə",
            "Galaxy S23 Ultra, iPhone 15, RTX4090",
            "ukuran 2 x 3 x 4 meter",
        ] {
            assert_eq!(disguised(s), None, "{s}");
        }
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
