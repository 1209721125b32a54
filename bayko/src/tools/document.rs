//! The "document-processor" tool: a quick, deterministic analysis of a text
//! document (plain text or Markdown).
//!
//! [`process`] counts words, sentences and characters, splits the document
//! into sections at its headings, extracts key phrases (RAKE) and builds an
//! extractive summary from the document's own sentences. It is also the
//! fallback when the LLM summary fails, so the summary favours sentences
//! that carry the document's most frequent content words.
//!
//! Pure logic: no I/O, no async, never panics on any input.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::sync::LazyLock;

use serde::Serialize;

/// Most characters (Unicode scalar values) a document may have.
pub const MAX_CHARACTERS: usize = 2_000_000;

/// Longest key phrase, in words; longer runs of content words are split.
const MAX_PHRASE_WORDS: usize = 4;

/// Most words a heading-like line (one without `#`) may have.
const MAX_HEADING_WORDS: usize = 8;

/// Most characters a heading-like line may have (guards unspaced scripts,
/// where one "word" can be a whole line).
const MAX_HEADING_CHARS: usize = 80;

/// Sentences longer than this are scored at their average density, so one
/// run-on "sentence" (e.g. text extracted without punctuation) cannot take
/// the whole summary.
const MAX_SCORED_WORDS: f64 = 60.0;

/// Score multiplier for the first sentence of a section: openings usually
/// state what the section is about.
const FIRST_SENTENCE_BOOST: f64 = 1.25;

/// Score multiplier for sentences with a number: figures are what readers
/// of a report look for.
const NUMBER_BOOST: f64 = 1.1;

/// Lowercase tokens (the text before the final `.`) that end in a dot
/// without ending a sentence.
const ABBREVIATIONS: [&str; 22] = [
    "al", "approx", "cf", "co", "corp", "dept", "dr", "e.g", "eg", "etc", "fig", "i.e", "ie",
    "inc", "jr", "ltd", "mr", "mrs", "ms", "prof", "sr", "vs",
];

/// Common English function words: they separate key phrase candidates and
/// do not count toward sentence scores.
const STOPWORDS: &str = "
    a about above after again against all also am among an and any are aren't as at be because
    been before being below between both but by can can't cannot could couldn't did didn't do
    does doesn't doing don't down during each either etc even every few for from further had
    hadn't has hasn't have haven't having he he's her here here's hers herself him himself his
    how however i i'm if in into is isn't it it's its itself just let's may me might more most
    much must my myself neither no nor not now of off often on once only or other our ours
    ourselves out over own per rather same shall she should shouldn't so some such than that
    that's the their theirs them themselves then there there's therefore these they they're this
    those though through thus to too under until up upon us very via was wasn't we we're were
    weren't what when where whether which while who whom whose why will with within without
    won't would wouldn't yet you you're your yours yourself yourselves";

static STOPWORD_SET: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| STOPWORDS.split_whitespace().collect());

/// How much of the document to report.
#[derive(Debug, Clone)]
pub struct DocumentOptions {
    /// Most sentences in the extractive summary (default 3).
    pub summary_sentences: usize,
    /// Most key phrases to report (default 8).
    pub key_phrases: usize,
}

impl Default for DocumentOptions {
    fn default() -> Self {
        Self {
            summary_sentences: 3,
            key_phrases: 8,
        }
    }
}

/// The result of [`process`].
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DocumentAnalysis {
    /// Words in the whole text, headings included: runs of alphanumeric
    /// characters, with apostrophes allowed inside (`don't` is one word).
    pub words: usize,
    /// Sentences in the whole text; headings and fenced code are not
    /// sentences.
    pub sentences: usize,
    /// Characters (Unicode scalar values) in the text, whitespace included.
    pub characters: usize,
    /// The document's sections, in order.
    pub sections: Vec<Section>,
    /// The best key phrases: highest score first, then most occurrences,
    /// then alphabetical.
    pub key_phrases: Vec<KeyPhrase>,
    /// The chosen sentences, in document order, joined by a space.
    pub summary: String,
    /// 0-based indices (in document order) of the sentences in `summary`,
    /// ascending.
    pub summary_sentences: Vec<usize>,
}

/// A part of the document that starts at a heading (or at the top of the
/// document, for text before the first heading).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Section {
    /// The heading's text; `None` for text before the first heading, or for
    /// the whole document when it has no headings.
    pub title: Option<String>,
    /// Words in the section, its heading included.
    pub words: usize,
    /// Sentences in the section.
    pub sentences: usize,
    /// 1-based line where the section starts (its heading's line).
    pub start_line: usize,
}

/// A phrase that characterises the document.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KeyPhrase {
    /// The phrase, lowercase, words separated by one space.
    pub phrase: String,
    /// RAKE score: the sum of its words' degree/frequency ratios, rounded to
    /// 4 decimals.
    pub score: f64,
    /// How often the phrase occurs as a candidate in the document.
    pub occurrences: usize,
}

/// Why a document could not be processed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// The text has no words: it is empty, whitespace or punctuation only.
    #[error("the document is empty: it has no words to analyse")]
    Empty,
    /// The text is longer than [`MAX_CHARACTERS`].
    #[error("the document has {found} characters, more than the limit of {limit}")]
    TooLong { limit: usize, found: usize },
}

/// Analyses `text`: counts, sections, key phrases and an extractive summary.
///
/// Deterministic: the same text and options always give the same analysis.
pub fn process(text: &str, options: &DocumentOptions) -> Result<DocumentAnalysis, DocumentError> {
    let characters = text.chars().count();
    if characters > MAX_CHARACTERS {
        return Err(DocumentError::TooLong {
            limit: MAX_CHARACTERS,
            found: characters,
        });
    }
    let drafts = parse_sections(text);
    let words: usize = drafts.iter().map(|draft| draft.words).sum();
    if words == 0 {
        return Err(DocumentError::Empty);
    }

    let sentences = collect_sentences(&drafts);
    let mut per_section = vec![0; drafts.len()];
    for sentence in &sentences {
        if let Some(count) = per_section.get_mut(sentence.section) {
            *count += 1;
        }
    }
    let sections = drafts
        .iter()
        .zip(per_section)
        .map(|(draft, sentences)| Section {
            title: draft.title.clone(),
            words: draft.words,
            sentences,
            start_line: draft.start_line,
        })
        .collect();

    let fragments: Vec<&str> = drafts
        .iter()
        .filter_map(|draft| draft.title.as_deref())
        .chain(sentences.iter().map(|s| s.text.as_str()))
        .collect();
    let key_phrases = rake(&fragments, options.key_phrases);

    let summary_sentences = choose_summary(&sentences, &fragments, options.summary_sentences);
    let summary = summary_sentences
        .iter()
        .filter_map(|&index| sentences.get(index))
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");

    Ok(DocumentAnalysis {
        words,
        sentences: sentences.len(),
        characters,
        sections,
        key_phrases,
        summary,
        summary_sentences,
    })
}

// ---------------------------------------------------------------------------
// Words
// ---------------------------------------------------------------------------

/// Byte ranges of the words in a text: runs of alphanumeric characters, with
/// an apostrophe allowed between two alphanumerics.
struct WordSpans<'a> {
    text: &'a str,
    pos: usize,
}

fn word_spans(text: &str) -> WordSpans<'_> {
    WordSpans { text, pos: 0 }
}

fn is_apostrophe(c: char) -> bool {
    c == '\'' || c == '\u{2019}'
}

impl Iterator for WordSpans<'_> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        let rest = self.text.get(self.pos..)?;
        let Some((offset, first)) = rest.char_indices().find(|(_, c)| c.is_alphanumeric()) else {
            self.pos = self.text.len();
            return None;
        };
        let start = self.pos + offset;
        let mut end = start + first.len_utf8();
        let mut chars = self.text.get(end..).unwrap_or_default().chars().peekable();
        while let Some(c) = chars.next() {
            let joins = c.is_alphanumeric()
                || (is_apostrophe(c) && chars.peek().is_some_and(|n| n.is_alphanumeric()));
            if !joins {
                break;
            }
            end += c.len_utf8();
        }
        self.pos = end;
        Some(start..end)
    }
}

fn count_words(text: &str) -> usize {
    word_spans(text).count()
}

/// The comparable form of a word: lowercase, typographic apostrophes made
/// plain.
fn normalise_word(word: &str) -> String {
    word.to_lowercase().replace('\u{2019}', "'")
}

fn is_stopword(word: &str) -> bool {
    STOPWORD_SET.contains(word)
}

/// A word made only of digits carries no topic ("2025", "120000").
fn is_number(word: &str) -> bool {
    word.chars().all(char::is_numeric)
}

/// A normalised word that counts as content (for key phrases and scores).
fn is_content_word(word: &str) -> bool {
    !is_stopword(word) && !is_number(word)
}

// ---------------------------------------------------------------------------
// Lines and sections
// ---------------------------------------------------------------------------

/// What a line of the document is.
#[derive(Debug)]
enum Line<'a> {
    Blank,
    /// A code fence (```` ``` ```` or `~~~`) opening or closing.
    Fence,
    /// A line inside fenced code.
    Code,
    /// A heading, with its title.
    Heading(String),
    /// A list item, with its marker removed.
    Item(&'a str),
    /// Ordinary prose.
    Text(&'a str),
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

fn is_fence(line: &str) -> bool {
    let trimmed = line.trim_start();
    trimmed.starts_with("```") || trimmed.starts_with("~~~")
}

/// The title of a Markdown ATX heading (`#` to `######`, a space, a title,
/// optionally closing `#`s), or `None` when the line is not one.
fn markdown_heading(line: &str) -> Option<String> {
    let trimmed = line.trim_start();
    // Four spaces of indentation make code, not a heading.
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let level = trimmed.bytes().take_while(|&b| b == b'#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = trimmed.get(level..)?;
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return None; // "#hashtag" is not a heading.
    }
    let rest = rest.trim();
    // A closing run of `#` counts only after a space ("# C#" keeps its `#`).
    let unclosed = rest.trim_end_matches('#');
    let title = if unclosed.is_empty() || unclosed.ends_with([' ', '\t']) {
        unclosed.trim()
    } else {
        rest
    };
    (!title.is_empty()).then(|| title.to_string())
}

/// The text of a list item without its marker (`- `, `* `, `+ `, `1. `,
/// `1) `), or `None` when the line is not a list item.
fn list_item(line: &str) -> Option<&str> {
    let trimmed = line.trim_start();
    for bullet in ["- ", "* ", "+ "] {
        if let Some(rest) = trimmed.strip_prefix(bullet) {
            return Some(rest.trim());
        }
    }
    let digits = trimmed.bytes().take_while(u8::is_ascii_digit).count();
    if (1..=9).contains(&digits) {
        let rest = trimmed.get(digits..)?;
        for marker in [". ", ") "] {
            if let Some(item) = rest.strip_prefix(marker) {
                return Some(item.trim());
            }
        }
    }
    None
}

/// The title of a line that stands alone like a heading: a short
/// one-line paragraph (blank line before and after) that is one phrase
/// without terminal punctuation, not starting in lowercase and not a list
/// item.
fn heading_like(line: &str, prev_blank: bool, next_blank: bool) -> Option<String> {
    if !prev_blank || !next_blank || list_item(line).is_some() {
        return None;
    }
    // "**Results**" is a bold pseudo-heading: judge it without the markup.
    let title = line.trim().trim_matches(['*', '_']).trim();
    let first = title.chars().next()?;
    let last = title.chars().last()?;
    let short = title.chars().count() <= MAX_HEADING_CHARS
        && (1..=MAX_HEADING_WORDS).contains(&count_words(title));
    // Terminal punctuation at the end, or inside ("Done. Next"), makes prose.
    let punctuated = matches!(last, '.' | '!' | '?' | ':' | ';' | ',' | '。' | '！' | '？')
        || split_sentences(title).len() > 1;
    let starts_like_title = first.is_alphanumeric() && !first.is_lowercase();
    (short && !punctuated && starts_like_title).then(|| title.to_string())
}

/// Classifies every line; needs the neighbours to spot heading-like lines
/// and the fence state to ignore `#` lines inside code.
fn classify_lines<'a>(lines: &[&'a str]) -> Vec<Line<'a>> {
    let mut in_fence = false;
    let mut classified = Vec::with_capacity(lines.len());
    for (index, &line) in lines.iter().enumerate() {
        let kind = if is_fence(line) {
            in_fence = !in_fence;
            Line::Fence
        } else if in_fence {
            Line::Code
        } else if is_blank(line) {
            Line::Blank
        } else if let Some(title) = markdown_heading(line) {
            Line::Heading(title)
        } else {
            let prev_blank = index == 0 || lines.get(index - 1).is_some_and(|l| is_blank(l));
            let next_blank = lines.get(index + 1).is_some_and(|l| is_blank(l));
            match heading_like(line, prev_blank, next_blank) {
                Some(title) => Line::Heading(title),
                None => match list_item(line) {
                    Some(item) => Line::Item(item),
                    None => Line::Text(line.trim()),
                },
            }
        };
        classified.push(kind);
    }
    classified
}

/// A section while it is being built: its prose is kept as blocks
/// (paragraphs and list items), which sentences never cross.
#[derive(Debug)]
struct SectionDraft {
    title: Option<String>,
    start_line: usize,
    words: usize,
    blocks: Vec<String>,
}

impl SectionDraft {
    fn new(title: Option<String>, start_line: usize) -> Self {
        Self {
            title,
            start_line,
            words: 0,
            blocks: Vec::new(),
        }
    }
}

/// Moves the prose gathered so far into the section as one block.
fn flush_block(block: &mut String, section: &mut SectionDraft) {
    if !block.is_empty() {
        section.blocks.push(std::mem::take(block));
    }
}

/// Splits the document into sections at its headings.
fn parse_sections(text: &str) -> Vec<SectionDraft> {
    let lines: Vec<&str> = text.lines().collect();
    let mut sections: Vec<SectionDraft> = Vec::new();
    let mut current = SectionDraft::new(None, 1);
    let mut block = String::new();

    for (index, (line, kind)) in lines.iter().zip(classify_lines(&lines)).enumerate() {
        if let Line::Heading(title) = kind {
            flush_block(&mut block, &mut current);
            let next = SectionDraft::new(Some(title), index + 1);
            let previous = std::mem::replace(&mut current, next);
            // Text before the first heading is a section only if it has words.
            if previous.title.is_some() || previous.words > 0 {
                sections.push(previous);
            }
            current.words += count_words(line);
            continue;
        }
        current.words += count_words(line);
        match kind {
            Line::Blank | Line::Fence | Line::Code | Line::Heading(_) => {
                flush_block(&mut block, &mut current);
            }
            Line::Item(item) => {
                flush_block(&mut block, &mut current);
                block.push_str(item);
            }
            Line::Text(prose) => {
                if !block.is_empty() {
                    block.push(' ');
                }
                block.push_str(prose);
            }
        }
    }
    flush_block(&mut block, &mut current);
    sections.push(current);
    sections
}

// ---------------------------------------------------------------------------
// Sentences
// ---------------------------------------------------------------------------

/// A sentence of the document, whitespace collapsed.
#[derive(Debug)]
struct Sentence {
    text: String,
    /// Index of its section.
    section: usize,
    /// Whether it opens its section.
    first_in_section: bool,
}

fn collect_sentences(sections: &[SectionDraft]) -> Vec<Sentence> {
    let mut sentences = Vec::new();
    for (index, section) in sections.iter().enumerate() {
        let texts = section
            .blocks
            .iter()
            .flat_map(|block| split_sentences(block));
        for (position, text) in texts.enumerate() {
            sentences.push(Sentence {
                text: text.split_whitespace().collect::<Vec<_>>().join(" "),
                section: index,
                first_in_section: position == 0,
            });
        }
    }
    sentences
}

fn is_terminal(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '。' | '！' | '？')
}

/// Full-width terminals end a sentence even without a following space
/// (Chinese and Japanese do not put spaces between sentences).
fn is_full_width_terminal(c: char) -> bool {
    matches!(c, '。' | '！' | '？')
}

/// Characters that may follow a terminal and still belong to the sentence.
fn is_closer(c: char) -> bool {
    is_terminal(c) || matches!(c, '"' | '\'' | ')' | ']' | '”' | '’' | '»' | '」' | '』')
}

/// Whether the `.` at byte `dot` ends an abbreviation or an initial rather
/// than a sentence.
fn is_abbreviation(block: &str, dot: usize) -> bool {
    let before = block.get(..dot).unwrap_or_default();
    let token = before
        .rsplit(char::is_whitespace)
        .next()
        .unwrap_or_default()
        .trim_start_matches(|c: char| !c.is_alphanumeric());
    let mut chars = token.chars();
    // A single capital is an initial, as in "J. Smith".
    if let (Some(only), None) = (chars.next(), chars.next())
        && only.is_uppercase()
    {
        return true;
    }
    ABBREVIATIONS.contains(&token.to_lowercase().as_str())
}

/// Splits a block of prose into sentences at `.`, `!` or `?` (and their
/// full-width forms) followed by whitespace or the end, keeping closing
/// quotes and brackets with the sentence. Abbreviations, initials and
/// decimals ("3.5") do not split. Pieces without a word are dropped.
fn split_sentences(block: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = block.char_indices().collect();
    let mut sentences = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while let Some(&(pos, c)) = chars.get(i) {
        i += 1;
        if !is_terminal(c) {
            continue;
        }
        while chars.get(i).is_some_and(|&(_, next)| is_closer(next)) {
            i += 1;
        }
        let end = chars.get(i).map_or(block.len(), |&(offset, _)| offset);
        let at_break = chars.get(i).is_none_or(|&(_, next)| next.is_whitespace());
        let ends =
            (at_break || is_full_width_terminal(c)) && !(c == '.' && is_abbreviation(block, pos));
        if ends {
            sentences.extend(block.get(start..end));
            start = end;
        }
    }
    sentences.extend(block.get(start..));
    sentences
        .into_iter()
        .map(str::trim)
        .filter(|s| count_words(s) > 0)
        .collect()
}

// ---------------------------------------------------------------------------
// Key phrases (RAKE)
// ---------------------------------------------------------------------------

/// Candidate phrases of a fragment: maximal runs of content words that are
/// separated only by whitespace, split into pieces of at most
/// [`MAX_PHRASE_WORDS`] words.
fn candidate_phrases(fragment: &str, out: &mut Vec<Vec<String>>) {
    let mut run: Vec<String> = Vec::new();
    let mut previous_end = 0;
    for span in word_spans(fragment) {
        let gap = fragment.get(previous_end..span.start).unwrap_or_default();
        if !gap.chars().all(char::is_whitespace) {
            end_run(&mut run, out);
        }
        previous_end = span.end;
        let word = normalise_word(fragment.get(span).unwrap_or_default());
        if is_content_word(&word) {
            run.push(word);
        } else {
            end_run(&mut run, out);
        }
    }
    end_run(&mut run, out);
}

fn end_run(run: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    out.extend(run.chunks(MAX_PHRASE_WORDS).map(<[String]>::to_vec));
    run.clear();
}

fn round4(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}

/// RAKE: a word scores degree/frequency (degree: total length of the
/// candidates it occurs in, itself included), a phrase the sum of its
/// words' scores. Best `limit` phrases; on equal scores the more frequent
/// phrase first, then alphabetical order.
fn rake(fragments: &[&str], limit: usize) -> Vec<KeyPhrase> {
    let mut candidates = Vec::new();
    for fragment in fragments {
        candidate_phrases(fragment, &mut candidates);
    }

    let mut word_stats: HashMap<&str, (usize, usize)> = HashMap::new();
    for phrase in &candidates {
        for word in phrase {
            let (frequency, degree) = word_stats.entry(word.as_str()).or_default();
            *frequency += 1;
            *degree += phrase.len();
        }
    }
    let word_score = |word: &str| {
        word_stats
            .get(word)
            .map_or(0.0, |&(frequency, degree)| degree as f64 / frequency as f64)
    };

    let mut occurrences: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for phrase in &candidates {
        let entry = occurrences.entry(phrase.join(" ")).or_insert_with(|| {
            let score = phrase.iter().map(|word| word_score(word)).sum::<f64>();
            (round4(score), 0)
        });
        entry.1 += 1;
    }

    let mut phrases: Vec<KeyPhrase> = occurrences
        .into_iter()
        .map(|(phrase, (score, occurrences))| KeyPhrase {
            phrase,
            score,
            occurrences,
        })
        .collect();
    phrases.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.occurrences.cmp(&a.occurrences))
            .then_with(|| a.phrase.cmp(&b.phrase))
    });
    phrases.truncate(limit);
    phrases
}

// ---------------------------------------------------------------------------
// Extractive summary
// ---------------------------------------------------------------------------

/// Content-word frequencies over the given fragments.
fn word_frequencies(fragments: &[&str]) -> HashMap<String, usize> {
    let mut frequencies = HashMap::new();
    for fragment in fragments {
        for span in word_spans(fragment) {
            let word = normalise_word(fragment.get(span).unwrap_or_default());
            if is_content_word(&word) {
                *frequencies.entry(word).or_insert(0) += 1;
            }
        }
    }
    frequencies
}

/// A sentence's score: the sum of its content words' frequencies divided by
/// the highest frequency, capped for run-on sentences, then boosted for
/// section openings and numbers.
fn sentence_score(sentence: &Sentence, frequencies: &HashMap<String, usize>, max: f64) -> f64 {
    let mut sum = 0.0;
    let mut words = 0usize;
    for span in word_spans(&sentence.text) {
        words += 1;
        let word = normalise_word(sentence.text.get(span).unwrap_or_default());
        if let Some(&frequency) = frequencies.get(&word) {
            sum += frequency as f64 / max;
        }
    }
    let mut score = sum * (MAX_SCORED_WORDS / words.max(1) as f64).min(1.0);
    if sentence.first_in_section {
        score *= FIRST_SENTENCE_BOOST;
    }
    if sentence.text.chars().any(char::is_numeric) {
        score *= NUMBER_BOOST;
    }
    score
}

/// Indices of the best `count` distinct sentences, ascending. Word
/// frequencies come from `fragments` (headings and sentences), so sentences
/// about the section topics rank higher. Ties go to the earlier sentence.
fn choose_summary(sentences: &[Sentence], fragments: &[&str], count: usize) -> Vec<usize> {
    let frequencies = word_frequencies(fragments);
    let max = frequencies.values().copied().max().unwrap_or(1).max(1) as f64;
    let mut ranked: Vec<(usize, f64)> = sentences
        .iter()
        .enumerate()
        .map(|(index, sentence)| (index, sentence_score(sentence, &frequencies, max)))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    // A repeated sentence (boilerplate, a footer on every page) is worth one
    // place in the summary, not several.
    let mut seen = HashSet::new();
    let mut chosen: Vec<usize> = ranked
        .into_iter()
        .map(|(index, _)| index)
        .filter(|&index| {
            sentences
                .get(index)
                .is_some_and(|s| seen.insert(s.text.to_lowercase()))
        })
        .take(count)
        .collect();
    chosen.sort_unstable();
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyse(text: &str) -> DocumentAnalysis {
        process(text, &DocumentOptions::default()).expect("analysable text")
    }

    fn sentences_of(text: &str) -> Vec<String> {
        let drafts = parse_sections(text);
        collect_sentences(&drafts)
            .into_iter()
            .map(|s| s.text)
            .collect()
    }

    #[test]
    fn counts_words_sentences_and_characters() {
        let analysis = analyse("The cat sat. The dog didn't!\nIs it late?");
        assert_eq!(analysis.words, 9);
        assert_eq!(analysis.sentences, 3);
        assert_eq!(analysis.characters, 40); // 12 + 16 + newline + 11
        assert_eq!(analysis.sections.len(), 1);
        assert_eq!(analysis.sections[0].title, None);
        assert_eq!(analysis.sections[0].start_line, 1);
    }

    #[test]
    fn markdown_headings_start_sections() {
        let text = "Intro line here.\n\n# Revenue\n\nRevenue grew. It grew fast.\n\n\
                    ## Costs ##\nCosts fell.\n";
        let analysis = analyse(text);
        let titles: Vec<Option<&str>> = analysis
            .sections
            .iter()
            .map(|s| s.title.as_deref())
            .collect();
        assert_eq!(titles, [None, Some("Revenue"), Some("Costs")]);
        let starts: Vec<usize> = analysis.sections.iter().map(|s| s.start_line).collect();
        assert_eq!(starts, [1, 3, 7]);
        let sentences: Vec<usize> = analysis.sections.iter().map(|s| s.sentences).collect();
        assert_eq!(sentences, [1, 2, 1]);
        let words: Vec<usize> = analysis.sections.iter().map(|s| s.words).collect();
        assert_eq!(words, [3, 6, 3]);
        assert_eq!(analysis.words, 12);
        assert_eq!(analysis.sentences, 4);
    }

    #[test]
    fn no_untitled_section_when_document_starts_with_heading() {
        let analysis = analyse("\n# Title\nBody text.");
        assert_eq!(analysis.sections.len(), 1);
        assert_eq!(analysis.sections[0].title.as_deref(), Some("Title"));
        assert_eq!(analysis.sections[0].start_line, 2);
    }

    #[test]
    fn heading_like_lines_start_sections() {
        let text = "Quarterly Results\n\nSales rose in every region.\n\n**Outlook**\n\n\
                    We expect growth.\nthis line is short\n\nlowercase line\n\nEnds with stop.\n";
        let titles: Vec<Option<String>> = analyse(text)
            .sections
            .into_iter()
            .map(|s| s.title)
            .collect();
        assert_eq!(
            titles,
            [
                Some("Quarterly Results".to_string()),
                Some("Outlook".to_string())
            ]
        );
    }

    #[test]
    fn hash_lines_in_code_fences_and_hashtags_are_not_headings() {
        let text = "Setup steps.\n\n```bash\n# install\nmake\n```\n\n#hashtag text.\n# C#\n";
        let analysis = analyse(text);
        let titles: Vec<Option<&str>> = analysis
            .sections
            .iter()
            .map(|s| s.title.as_deref())
            .collect();
        assert_eq!(titles, [None, Some("C#")]);
        // Code is not prose: only "Setup steps." and "#hashtag text." are sentences.
        assert_eq!(analysis.sentences, 2);
    }

    #[test]
    fn abbreviations_initials_and_decimals_do_not_split_sentences() {
        let text = "Mr. Smith met Dr. Jones, e.g. at Acme Inc. on Friday. Growth was 3.5 percent \
                    vs. 2.1 last year, i.e. better. J. R. Tolkien wrote books etc. and more! Done?";
        assert_eq!(
            sentences_of(text),
            [
                "Mr. Smith met Dr. Jones, e.g. at Acme Inc. on Friday.",
                "Growth was 3.5 percent vs. 2.1 last year, i.e. better.",
                "J. R. Tolkien wrote books etc. and more!",
                "Done?",
            ]
        );
    }

    #[test]
    fn closing_quotes_stay_with_their_sentence_and_blocks_split() {
        let text = "He said \"stop.\" Then left?! Next\n\n- item one\n- item two\n";
        assert_eq!(
            sentences_of(text),
            [
                "He said \"stop.\"",
                "Then left?!",
                "Next",
                "item one",
                "item two"
            ]
        );
    }

    #[test]
    fn wrapped_lines_join_into_one_sentence() {
        assert_eq!(
            sentences_of("A sentence that\nwraps over   lines.\nAnother."),
            ["A sentence that wraps over lines.", "Another."]
        );
    }

    #[test]
    fn key_phrases_follow_rake_scores() {
        // The classic RAKE example. Candidates: compatibility (twice),
        // systems, linear constraints, set, natural numbers, criteria,
        // system, linear diophantine equations. Word scores: linear 5/2,
        // constraints 2, natural 2, numbers 2, diophantine 3, equations 3.
        let text = "Compatibility of systems of linear constraints over the set of natural \
                    numbers. Criteria of compatibility of a system of linear Diophantine equations.";
        let phrases = analyse(text).key_phrases;
        assert_eq!(phrases[0].phrase, "linear diophantine equations");
        assert_eq!(phrases[0].score, 8.5);
        assert_eq!(phrases[0].occurrences, 1);
        assert_eq!(phrases[1].phrase, "linear constraints");
        assert_eq!(phrases[1].score, 4.5);
        assert_eq!(phrases[2].phrase, "natural numbers");
        assert_eq!(phrases[2].score, 4.0);
        // Every single-word candidate scores 1.0; ties go alphabetically,
        // and "system" is a different word from "systems".
        let rest: Vec<&str> = phrases[3..].iter().map(|p| p.phrase.as_str()).collect();
        assert_eq!(
            rest,
            ["compatibility", "criteria", "set", "system", "systems"]
        );
        assert_eq!(phrases[3].occurrences, 2);
    }

    #[test]
    fn key_phrases_respect_limit_length_and_punctuation() {
        let options = DocumentOptions {
            summary_sentences: 1,
            key_phrases: 2,
        };
        let text = "Alpha beta gamma delta epsilon zeta, eta theta.";
        let phrases = process(text, &options).expect("analysable").key_phrases;
        assert_eq!(phrases.len(), 2);
        // The six-word run splits into 4 + 2 words; the comma ends a run.
        assert_eq!(phrases[0].phrase, "alpha beta gamma delta");
        assert_eq!(phrases[1].phrase, "epsilon zeta");
        assert_eq!(phrases[1].score, 4.0); // ties with "eta theta", wins alphabetically
    }

    #[test]
    fn summary_picks_the_most_central_sentences_in_order() {
        let text = "# Sales\n\nThe weather was mild. Sales of solar panels rose in the north. \
                    Solar panels sales also rose in the south. A cat walked by. Solar panels \
                    sales drove profit to 12 million.";
        let options = DocumentOptions {
            summary_sentences: 2,
            key_phrases: 3,
        };
        let analysis = process(text, &options).expect("analysable");
        // Sentence 4 has the most frequent words and a number; 1 and 2 tie on
        // words, and the earlier one wins.
        assert_eq!(analysis.summary_sentences, [1, 4]);
        assert_eq!(
            analysis.summary,
            "Sales of solar panels rose in the north. Solar panels sales drove profit to 12 million."
        );
        assert_eq!(analysis.key_phrases[0].phrase, "solar panels sales drove");
    }

    #[test]
    fn first_sentence_of_a_section_gets_a_boost() {
        let options = DocumentOptions {
            summary_sentences: 1,
            key_phrases: 0,
        };
        // Equal sentences, both section openers: the earlier wins the tie.
        let text = "Revenue rose sharply.\n\n# Costs\n\nRevenue rose sharply.";
        let analysis = process(text, &options).expect("analysable");
        assert_eq!(analysis.summary_sentences, [0]);
        // Equal sentences, only the later one opens its section: it wins.
        let text =
            "# A\n\nFiller words here. Revenue rose sharply.\n\n# B\n\nRevenue rose sharply.";
        let analysis = process(text, &options).expect("analysable");
        assert_eq!(analysis.summary_sentences, [2]);
        assert!(analysis.key_phrases.is_empty());
    }

    #[test]
    fn summary_skips_repeated_sentences() {
        let text = "Solar sales rose. Solar sales rose. Wind sales fell. solar SALES rose.";
        let analysis = analyse(text);
        assert_eq!(analysis.summary_sentences, [0, 2]);
        assert_eq!(analysis.summary, "Solar sales rose. Wind sales fell.");
    }

    #[test]
    fn key_phrase_ties_prefer_frequent_then_alphabetical() {
        let text = "Zeta is here. Alpha is here. Zeta is there. Beta is there.";
        let phrases: Vec<(String, usize)> = analyse(text)
            .key_phrases
            .into_iter()
            .map(|p| (p.phrase, p.occurrences))
            .collect();
        // Every phrase is one word scoring 1.0: "zeta" occurs twice.
        assert_eq!(
            phrases,
            [
                ("zeta".to_string(), 2),
                ("alpha".to_string(), 1),
                ("beta".to_string(), 1)
            ]
        );
    }

    #[test]
    fn summary_is_whole_text_when_short() {
        let analysis = analyse("One point. Two points.");
        assert_eq!(analysis.summary_sentences, [0, 1]);
        assert_eq!(analysis.summary, "One point. Two points.");
    }

    #[test]
    fn empty_and_wordless_text_is_rejected() {
        for text in ["", "   \n\t\n", "--- !!! ...", "# \n"] {
            assert_eq!(
                process(text, &DocumentOptions::default()),
                Err(DocumentError::Empty),
                "{text:?}"
            );
        }
        assert_eq!(
            DocumentError::Empty.to_string(),
            "the document is empty: it has no words to analyse"
        );
    }

    #[test]
    fn too_long_text_is_rejected() {
        let text = "a".repeat(MAX_CHARACTERS + 1);
        let error = process(&text, &DocumentOptions::default()).unwrap_err();
        assert_eq!(
            error,
            DocumentError::TooLong {
                limit: MAX_CHARACTERS,
                found: MAX_CHARACTERS + 1
            }
        );
        assert_eq!(
            error.to_string(),
            "the document has 2000001 characters, more than the limit of 2000000"
        );
    }

    #[test]
    fn unicode_text_is_handled() {
        let text = "# Résumé\n\nDie Größe wächst über Erwartung. Café ünd naïve! \
                    日本語の文章です。二つ目の文。\n";
        let analysis = analyse(text);
        assert_eq!(analysis.sections[0].title.as_deref(), Some("Résumé"));
        assert_eq!(analysis.sentences, 4);
        assert_eq!(analysis.characters, text.chars().count());
        // German words are not stopwords: the five-word run splits 4 + 1.
        let phrases: Vec<&str> = analysis
            .key_phrases
            .iter()
            .map(|p| p.phrase.as_str())
            .collect();
        assert!(phrases.contains(&"die größe wächst über"), "{phrases:?}");
        assert!(phrases.contains(&"日本語の文章です"), "{phrases:?}");
        assert!(!analysis.summary.is_empty());
    }

    #[test]
    fn word_rules() {
        let spans =
            |text: &str| -> Vec<String> { word_spans(text).map(|r| text[r].to_string()).collect() };
        assert_eq!(
            spans("don't 'quoted' it’s a-b 3.5"),
            ["don't", "quoted", "it’s", "a", "b", "3", "5"]
        );
        assert_eq!(spans("élan über 東京"), ["élan", "über", "東京"]);
        assert!(spans("' ’ -- ").is_empty());
    }

    #[test]
    fn serialises_to_json() {
        let analysis = analyse("# T\n\nHello world.");
        let json = serde_json::to_value(&analysis).expect("serialisable");
        assert_eq!(json["sections"][0]["title"], "T");
        assert_eq!(json["summary"], "Hello world.");
        assert_eq!(json["summary_sentences"][0], 0);
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        let inputs = [
            ".",
            "?!.",
            "#",
            "######## x",
            "```",
            "```\n# a\n",
            "- ",
            "1.",
            "1. ",
            "\r\n\r\n",
            "a.b.c. d",
            "'",
            "…",
            "x.\u{301}",
            "e.g.",
            "Mr.",
            "\u{feff}text",
            "。。。",
            "a\u{2019}",
        ];
        for input in inputs {
            let _ = process(input, &DocumentOptions::default());
            let _ = process(
                input,
                &DocumentOptions {
                    summary_sentences: 0,
                    key_phrases: 0,
                },
            );
        }
    }
}
