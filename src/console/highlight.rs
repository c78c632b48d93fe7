//! Cutting a comment's original text into pieces at the matched rules' spans, so each piece
//! can be escaped on its own and the matched ones wrapped in `<mark>`. Spans are byte offsets
//! into the original text (the verdict keeps them so); a span that does not fall on character
//! boundaries, or runs past the end, is moved inwards to the nearest boundary rather than
//! trusted, so slicing never panics.

/// A piece of the text and the indexes of the spans covering it (empty: not matched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece<'a> {
    /// The original text of the piece.
    pub text: &'a str,
    /// Indexes into the span list given to [`pieces`].
    pub rules: Vec<usize>,
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The text cut at every span's start and end; overlapping spans give pieces covered by both.
pub fn pieces<'a>(text: &'a str, spans: &[(usize, usize)]) -> Vec<Piece<'a>> {
    let clean: Vec<(usize, usize)> = spans
        .iter()
        .map(|&(a, b)| {
            let (a, b) = (floor_boundary(text, a), floor_boundary(text, b));
            (a.min(b), a.max(b))
        })
        .collect();
    let mut cuts: Vec<usize> = vec![0, text.len()];
    for &(a, b) in &clean {
        cuts.push(a);
        cuts.push(b);
    }
    cuts.sort_unstable();
    cuts.dedup();
    cuts.windows(2)
        .map(|w| {
            let (from, to) = (w[0], w[1]);
            let rules = clean
                .iter()
                .enumerate()
                .filter(|(_, (a, b))| *a <= from && to <= *b && a < b)
                .map(|(i, _)| i)
                .collect();
            Piece {
                text: &text[from..to],
                rules,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn overlapping_spans_mark_their_common_piece_with_both() {
        let p = pieces("daftar GARUDA88 sekarang", &[(7, 15), (0, 10)]);
        let texts: Vec<&str> = p.iter().map(|p| p.text).collect();
        assert_eq!(texts, ["daftar ", "GAR", "UDA88", " sekarang"]);
        assert_eq!(p[1].rules, [0, 1]);
        assert_eq!(p[2].rules, [0]);
        assert!(p[3].rules.is_empty());
    }

    #[test]
    fn spans_inside_a_character_or_past_the_end_do_not_panic() {
        let p = pieces("é😀x", &[(1, 3), (4, 99)]);
        assert_eq!(p.iter().map(|p| p.text).collect::<String>(), "é😀x");
    }

    proptest! {
        #[test]
        fn the_pieces_are_the_text_and_each_mark_lies_inside_its_span(
            text in "\\PC{0,40}",
            spans in proptest::collection::vec((0usize..200, 0usize..200), 0..5),
        ) {
            let p = pieces(&text, &spans);
            prop_assert_eq!(p.iter().map(|p| p.text).collect::<String>(), text.clone());
            let mut at = 0;
            for piece in &p {
                for &i in &piece.rules {
                    let (a, b) = spans[i];
                    let lo = floor_boundary(&text, a.min(b));
                    let hi = floor_boundary(&text, a.max(b));
                    prop_assert!(lo <= at && at + piece.text.len() <= hi);
                }
                at += piece.text.len();
            }
        }
    }
}
