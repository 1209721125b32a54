//! The compliance scanner: finds personal data and secrets in a text and
//! redacts them. Brown runs it at the door (the per-tenant content policy),
//! Bayko as its "compliance-scanner" tool and to redact artifacts; one
//! scanner, so the two can never disagree on what a secret is.
//!
//! [`scan`] looks for e-mail addresses, phone numbers, payment card numbers
//! (Luhn-checked), IBANs (mod-97-checked), AWS access key ids and PEM
//! private key blocks. [`redact`] replaces each finding with
//! `[REDACTED:<kind>]`. Checksums and context rules keep ordinary numbers
//! (amounts, dates, years, CSV figures) from being reported.
//!
//! Pure logic: no I/O, no async, never panics on any input.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        \b[A-Za-z0-9._%+-]+
        @
        (?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+
        [A-Za-z]{2,24}\b",
    )
    .expect("valid regex")
});

/// Phone shapes; each match is then checked for 9 to 15 digits and for not
/// being part of a larger number.
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
          # international: +44 20 7946 0958, +1-202-555-0143, +44 (0)20 7946 0958
          \+[0-9]{1,3}(?:[\ -]?(?:\([0-9]{1,4}\)|[0-9]{1,5})){1,8}
          # North American: (555) 123-4567
        | \([0-9]{3}\)\ ?[0-9]{3}[.-][0-9]{4}
          # North American: 555-123-4567, 555.123.4567, 1-800-555-0199
        | \b(?:1[.-])?[0-9]{3}[.-][0-9]{3}[.-][0-9]{4}\b
          # national with a trunk 0: 020 7946 0958, 01 23 45 67 89
        | \b0[0-9]{1,4}(?:[\ -][0-9]{2,4}){2,4}\b",
    )
    .expect("valid regex")
});

/// Runs of digit groups separated by one space or hyphen; card numbers are
/// looked for inside them.
static DIGIT_RUN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b[0-9]+(?:[ -][0-9]+)*\b").expect("valid regex"));

/// Country code, check digits, then alphanumerics with optional single
/// spaces; checked with mod-97 afterwards.
static IBAN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b").expect("valid regex")
});

static AWS_ACCESS_KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b").expect("valid regex"));

static PEM_BEGIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----").expect("valid regex")
});

static PEM_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----").expect("valid regex")
});

/// What a finding is.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// An e-mail address.
    Email,
    /// A phone number, international (`+CC …`) or national with separators.
    Phone,
    /// A payment card number that passes the Luhn check.
    CardNumber,
    /// An IBAN that passes the ISO 7064 mod-97 check.
    Iban,
    /// An AWS access key id (`AKIA…` or `ASIA…`).
    AwsAccessKey,
    /// A PEM private key block, BEGIN line through END line.
    PrivateKey,
}

impl FindingKind {
    /// The kind's name as serialised (snake_case), as used in
    /// `[REDACTED:<kind>]`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Phone => "phone",
            Self::CardNumber => "card_number",
            Self::Iban => "iban",
            Self::AwsAccessKey => "aws_access_key",
            Self::PrivateKey => "private_key",
        }
    }

    /// Breaks ties between equally long overlapping candidates: the kind
    /// with the stricter pattern or checksum wins.
    fn specificity(self) -> u8 {
        match self {
            Self::PrivateKey => 5,
            Self::AwsAccessKey => 4,
            Self::Iban => 3,
            Self::CardNumber => 2,
            Self::Email => 1,
            Self::Phone => 0,
        }
    }
}

/// One piece of personal data or secret found in a text.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Finding {
    /// What was found.
    pub kind: FindingKind,
    /// Byte offset of its first byte in the scanned text.
    pub start: usize,
    /// Byte offset just past its last byte.
    pub end: usize,
    /// 1-based line of `start`.
    pub line: usize,
    /// A masked form that is safe to show (e.g. `j***@example.com`,
    /// `**** **** **** 1111`); never the full value.
    pub preview: String,
}

/// A redacted text and what was redacted.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Redacted {
    /// The text with every finding replaced by `[REDACTED:<kind>]`.
    pub text: String,
    /// The findings, with offsets into the original text.
    pub findings: Vec<Finding>,
}

/// Finds personal data and secrets in `text`.
///
/// The findings are sorted by start offset and do not overlap. Where
/// candidates overlap, phone numbers yield to every other kind (so card
/// numbers and IBANs take precedence); otherwise the longer candidate
/// wins, then the more specific kind.
pub fn scan(text: &str) -> Vec<Finding> {
    let mut candidates = Vec::new();
    candidates.extend(private_keys(text));
    candidates.extend(regex_candidates(
        &AWS_ACCESS_KEY,
        text,
        FindingKind::AwsAccessKey,
    ));
    candidates.extend(ibans(text));
    candidates.extend(card_numbers(text));
    candidates.extend(regex_candidates(&EMAIL, text, FindingKind::Email));
    candidates.extend(phones(text));

    let lines = LineIndex::new(text);
    resolve_overlaps(candidates)
        .into_iter()
        .map(|candidate| Finding {
            kind: candidate.kind,
            start: candidate.range.start,
            end: candidate.range.end,
            line: lines.line_of(candidate.range.start),
            preview: preview(
                candidate.kind,
                text.get(candidate.range).unwrap_or_default(),
            ),
        })
        .collect()
}

/// Replaces every finding of [`scan`] with `[REDACTED:<kind>]`; the text
/// between findings is kept byte for byte.
pub fn redact(text: &str) -> Redacted {
    let findings = scan(text);
    let mut redacted = String::with_capacity(text.len());
    let mut cursor = 0;
    for finding in &findings {
        redacted.push_str(text.get(cursor..finding.start).unwrap_or_default());
        redacted.push_str("[REDACTED:");
        redacted.push_str(finding.kind.as_str());
        redacted.push(']');
        cursor = finding.end;
    }
    redacted.push_str(text.get(cursor..).unwrap_or_default());
    Redacted {
        text: redacted,
        findings,
    }
}

/// Redacts every string of a JSON document, object keys included (a group-by
/// column of e-mail addresses makes them keys); returns how many findings
/// were replaced. Keys that redact to the same text stay distinct entries,
/// numbered (`[REDACTED:email]`, `[REDACTED:email] #2`, …), so no value is
/// lost.
pub fn redact_json(value: &mut serde_json::Value) -> usize {
    use serde_json::Value;
    match value {
        Value::String(text) => redact_in_place(text),
        Value::Array(items) => items.iter_mut().map(redact_json).sum(),
        Value::Object(fields) => {
            let mut count = 0;
            let mut redacted = serde_json::Map::with_capacity(fields.len());
            for (mut key, mut field) in std::mem::take(fields) {
                count += redact_in_place(&mut key) + redact_json(&mut field);
                let mut unique = key.clone();
                let mut ordinal = 1;
                while redacted.contains_key(&unique) {
                    ordinal += 1;
                    unique = format!("{key} #{ordinal}");
                }
                redacted.insert(unique, field);
            }
            *fields = redacted;
            count
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
    }
}

/// Redacts `text` where it stands; returns how many findings were replaced.
pub fn redact_in_place(text: &mut String) -> usize {
    let redacted = redact(text);
    let count = redacted.findings.len();
    if count > 0 {
        *text = redacted.text;
    }
    count
}

/// Counts findings per kind; kinds without findings are absent.
pub fn summarize(findings: &[Finding]) -> BTreeMap<FindingKind, usize> {
    let mut counts = BTreeMap::new();
    for finding in findings {
        *counts.entry(finding.kind).or_insert(0) += 1;
    }
    counts
}

// ---------------------------------------------------------------------------
// Candidates and overlaps
// ---------------------------------------------------------------------------

/// A match before overlaps are resolved.
#[derive(Debug, Clone)]
struct Candidate {
    kind: FindingKind,
    range: Range<usize>,
}

fn regex_candidates(regex: &Regex, text: &str, kind: FindingKind) -> Vec<Candidate> {
    regex
        .find_iter(text)
        .map(|m| Candidate {
            kind,
            range: m.range(),
        })
        .collect()
}

/// Keeps a non-overlapping subset of the candidates, sorted by start:
/// non-phones before phones, then longest first, then most specific, then
/// earliest; each candidate is kept unless it overlaps one already kept.
fn resolve_overlaps(mut candidates: Vec<Candidate>) -> Vec<Candidate> {
    candidates.sort_by_key(|c| {
        (
            c.kind == FindingKind::Phone,
            Reverse(c.range.len()),
            Reverse(c.kind.specificity()),
            c.range.start,
        )
    });
    // Kept candidates by start; they never overlap, so only the one starting
    // last before a candidate's end can overlap it.
    let mut kept: BTreeMap<usize, Candidate> = BTreeMap::new();
    for candidate in candidates {
        let overlaps = kept
            .range(..candidate.range.end)
            .next_back()
            .is_some_and(|(_, k)| k.range.end > candidate.range.start);
        if !overlaps && !candidate.range.is_empty() {
            kept.insert(candidate.range.start, candidate);
        }
    }
    kept.into_values().collect()
}

/// Whether the match at `start..end` continues a larger token: a letter or
/// digit right next to it, or a `.`, `-` or `/` followed by a digit
/// (decimals such as `120000.50`, dates such as `2025-01-31`).
fn touches_number(text: &str, start: usize, end: usize) -> bool {
    fn continues(next: Option<char>, beyond: Option<char>) -> bool {
        match next {
            Some(c) if c.is_alphanumeric() => true,
            Some('.' | '-' | '/') => beyond.is_some_and(|b| b.is_ascii_digit()),
            _ => false,
        }
    }
    let mut before = text.get(..start).unwrap_or_default().chars().rev();
    let (previous, earlier) = (before.next(), before.next());
    let mut after = text.get(end..).unwrap_or_default().chars();
    let (next, later) = (after.next(), after.next());
    continues(previous, earlier) || continues(next, later)
}

fn ascii_digits(value: &str) -> Vec<u8> {
    value
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect()
}

/// Maps byte offsets to 1-based line numbers.
struct LineIndex {
    /// Byte offset where each line starts.
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let breaks = text.match_indices('\n').map(|(i, _)| i + 1);
        Self {
            starts: std::iter::once(0).chain(breaks).collect(),
        }
    }

    fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset)
    }
}

// ---------------------------------------------------------------------------
// Detectors
// ---------------------------------------------------------------------------

/// PEM private key blocks: from a BEGIN line through the next matching END
/// line, or to the end of the text when the END line is missing.
fn private_keys(text: &str) -> Vec<Candidate> {
    let mut found = Vec::new();
    let mut position = 0;
    while let Some(begin) = PEM_BEGIN.find_at(text, position) {
        let end = PEM_END
            .find_at(text, begin.end())
            .map_or(text.len(), |m| m.end());
        found.push(Candidate {
            kind: FindingKind::PrivateKey,
            range: begin.start()..end,
        });
        position = end;
    }
    found
}

/// Phone numbers with 9 to 15 digits (the E.164 maximum) that are not part
/// of a larger number.
fn phones(text: &str) -> Vec<Candidate> {
    PHONE
        .find_iter(text)
        .filter_map(|m| trim_phone(text, m.range()))
        .filter(|range| !touches_number(text, range.start, range.end))
        .map(|range| Candidate {
            kind: FindingKind::Phone,
            range,
        })
        .collect()
}

/// Trims a phone match with more than 15 digits back to a separator (the
/// pattern can run on into a following number), then requires 9 digits.
fn trim_phone(text: &str, range: Range<usize>) -> Option<Range<usize>> {
    let mut end = range.end;
    loop {
        let candidate = text.get(range.start..end)?;
        let digits = ascii_digits(candidate).len();
        if digits <= 15 {
            return (digits >= 9).then_some(range.start..end);
        }
        end = range.start + candidate.rfind([' ', '-'])?;
    }
}

/// Luhn check over decimal digits (most significant first).
fn luhn_valid(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(index, &digit)| {
            let digit = u32::from(digit);
            if index % 2 == 1 {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// A card number: 13 to 19 digits, a leading digit of 2 to 6 (the
/// payment-card networks: Mastercard, Amex, Diners, JCB, Visa, Discover,
/// UnionPay, Maestro), passing the Luhn check. The leading-digit rule keeps
/// Luhn-valid timestamps and ids (1…, 7…, 9…) out.
fn is_card_number(digits: &[u8]) -> bool {
    (13..=19).contains(&digits.len())
        && digits.first().is_some_and(|d| (2..=6).contains(d))
        && luhn_valid(digits)
}

/// Card numbers inside runs of digit groups. A card is either one group of
/// 13–19 digits or groups as cards are printed: a first group of 4 digits,
/// then groups of 3–6 (4-4-4-4, 4-6-5, 4-4-4-4-3). The longest valid window
/// from each group wins, so "4111 1111 1111 1111 2025" still finds the card.
fn card_numbers(text: &str) -> Vec<Candidate> {
    let mut found = Vec::new();
    for run in DIGIT_RUN.find_iter(text) {
        if touches_number(text, run.start(), run.end()) {
            continue;
        }
        let groups: Vec<Range<usize>> = digit_groups(run.as_str())
            .into_iter()
            .map(|g| g.start + run.start()..g.end + run.start())
            .collect();
        let mut first = 0;
        while first < groups.len() {
            match card_window(text, &groups, first) {
                Some(last) => {
                    let start = groups.get(first).map_or(0, |g| g.start);
                    let end = groups.get(last).map_or(start, |g| g.end);
                    found.push(Candidate {
                        kind: FindingKind::CardNumber,
                        range: start..end,
                    });
                    first = last + 1;
                }
                None => first += 1,
            }
        }
    }
    found
}

/// Byte ranges of the digit groups in a run such as `4111 1111-1111`.
fn digit_groups(run: &str) -> Vec<Range<usize>> {
    let mut groups = Vec::new();
    let mut start = 0;
    for (index, c) in run.char_indices() {
        if c == ' ' || c == '-' {
            groups.push(start..index);
            start = index + 1;
        }
    }
    groups.push(start..run.len());
    groups
}

/// The last group of the longest valid card number starting at group
/// `first`, if any.
fn card_window(text: &str, groups: &[Range<usize>], first: usize) -> Option<usize> {
    let digits_of = |g: &Range<usize>| ascii_digits(text.get(g.clone()).unwrap_or_default());
    let head = digits_of(groups.get(first)?);
    if is_card_number(&head) {
        return Some(first);
    }
    if head.len() != 4 {
        return None;
    }
    let mut digits = head;
    let mut best = None;
    for (offset, group) in groups.get(first + 1..)?.iter().enumerate() {
        let group_digits = digits_of(group);
        if !(3..=6).contains(&group_digits.len()) || digits.len() + group_digits.len() > 19 {
            break;
        }
        digits.extend(group_digits);
        if is_card_number(&digits) {
            best = Some(first + 1 + offset);
        }
    }
    best
}

/// IBANs: for each pattern match, tries every group start and, from it,
/// the longest run of groups that passes the checks, so surrounding
/// capitals ("EUR") do not hide a valid IBAN.
fn ibans(text: &str) -> Vec<Candidate> {
    let mut found = Vec::new();
    for m in IBAN.find_iter(text) {
        let mut start = m.start();
        while start < m.end() {
            if let Some(end) = longest_valid_iban(text, start, m.end()) {
                found.push(Candidate {
                    kind: FindingKind::Iban,
                    range: start..end,
                });
                start = end;
            }
            // Move on to the next group.
            match text.get(start..m.end()).and_then(|rest| rest.find(' ')) {
                Some(space) => start += space + 1,
                None => break,
            }
        }
    }
    found
}

/// The end of the longest valid IBAN that starts at `start` and ends at a
/// group boundary (a space) or at `limit`.
fn longest_valid_iban(text: &str, start: usize, limit: usize) -> Option<usize> {
    let span = text.get(start..limit)?;
    let ends: Vec<usize> = span
        .match_indices(' ')
        .map(|(i, _)| start + i)
        .chain(std::iter::once(limit))
        .collect();
    ends.into_iter().rev().find(|&end| {
        let compact: String = text
            .get(start..end)
            .unwrap_or_default()
            .chars()
            .filter(|c| *c != ' ')
            .collect();
        is_valid_iban(&compact)
    })
}

/// ISO 13616 shape (2 letters, 2 check digits 02–98, 15–34 characters in
/// all) and ISO 7064 mod-97: moving the first four characters to the end
/// and reading letters as 10–35 must leave remainder 1.
fn is_valid_iban(compact: &str) -> bool {
    let bytes = compact.as_bytes();
    let [c1, c2, d1, d2, rest @ ..] = bytes else {
        return false;
    };
    let shape_ok = (15..=34).contains(&bytes.len())
        && c1.is_ascii_uppercase()
        && c2.is_ascii_uppercase()
        && d1.is_ascii_digit()
        && d2.is_ascii_digit()
        && rest
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    let check = u32::from(d1.wrapping_sub(b'0')) * 10 + u32::from(d2.wrapping_sub(b'0'));
    if !shape_ok || !(2..=98).contains(&check) {
        return false;
    }
    let remainder = rest.iter().chain([c1, c2, d1, d2]).fold(0u32, |acc, &b| {
        if b.is_ascii_digit() {
            (acc * 10 + u32::from(b - b'0')) % 97
        } else {
            (acc * 100 + u32::from(b - b'A') + 10) % 97
        }
    });
    remainder == 1
}

// ---------------------------------------------------------------------------
// Previews
// ---------------------------------------------------------------------------

/// A masked form of a finding's text.
fn preview(kind: FindingKind, value: &str) -> String {
    match kind {
        FindingKind::Email => mask_email(value),
        FindingKind::Phone => mask(value, 0, 2),
        FindingKind::CardNumber => mask(value, 0, 4),
        FindingKind::Iban => mask(value, 2, 4),
        FindingKind::AwsAccessKey => mask(value, 4, 4),
        FindingKind::PrivateKey => mask_private_key(value),
    }
}

/// Replaces ASCII letters and digits with `*`, except the first
/// `keep_first` and last `keep_last` of them; separators stay. Everything
/// is masked if that would leave the value whole.
fn mask(value: &str, keep_first: usize, keep_last: usize) -> String {
    let total = value.chars().filter(char::is_ascii_alphanumeric).count();
    let (keep_first, keep_last) = if keep_first + keep_last >= total {
        (0, 0)
    } else {
        (keep_first, keep_last)
    };
    let mut seen = 0;
    value
        .chars()
        .map(|c| {
            if !c.is_ascii_alphanumeric() {
                return c;
            }
            seen += 1;
            if seen <= keep_first || seen > total - keep_last {
                c
            } else {
                '*'
            }
        })
        .collect()
}

/// `john.doe@example.com` → `j***@example.com`: the domain says whose
/// address it is, the local part identifies the person.
fn mask_email(value: &str) -> String {
    match value.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_string(),
    }
}

/// The BEGIN line and the block's size; the key material is never shown.
fn mask_private_key(value: &str) -> String {
    let header = value.lines().next().unwrap_or_default().trim();
    let header = PEM_BEGIN
        .find(header)
        .map_or("-----BEGIN PRIVATE KEY-----", |m| m.as_str());
    let lines = value.lines().count();
    let unit = if lines == 1 { "line" } else { "lines" };
    format!("{header} **** ({lines} {unit})")
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA_KEY: &str = "-----BEGIN RSA PRIVATE KEY-----
MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu
KUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQJAIJLixBy2qpFoS4DSmoEm
o3qGy0t6z09AIJtH+5OeRV1be+N4cDYJKffGzDa88vQENZiRm0GRq6a+HPGQMd2k
TQIhAKMSvzIBnni7ot/OSie2TmJLY4SwTQAevXysE2RbFDYdAiEBCUEaRQnMnbp7
9mxDXDf6AU0cN/RPBjb9qSHDcWZHGzUCIG2Es59z8ugGrDY+pxLQnwfotadxd+Uy
v/Ow5T0q5gIJAiEAyS4RaI9YG8EWx/2w0T67ZUVAw8eOMB6BIUg0Xcu+3okCIBOs
/5OiPgoTdSy7bcF9IGpSE8ZgGKzgYQVZeN97YE00
-----END RSA PRIVATE KEY-----";

    fn kinds(findings: &[Finding]) -> Vec<FindingKind> {
        findings.iter().map(|f| f.kind).collect()
    }

    fn found<'a>(text: &'a str, findings: &[Finding]) -> Vec<&'a str> {
        findings.iter().map(|f| &text[f.start..f.end]).collect()
    }

    #[test]
    fn luhn_check() {
        assert!(luhn_valid(&ascii_digits("4111111111111111")));
        assert!(!luhn_valid(&ascii_digits("4111111111111112")));
        assert!(luhn_valid(&ascii_digits("79927398713")));
        assert!(!luhn_valid(&[]));
    }

    #[test]
    fn card_numbers_must_pass_luhn() {
        let text = "Card 4111 1111 1111 1111 ok, 4111 1111 1111 1112 not ok.";
        let findings = scan(text);
        assert_eq!(kinds(&findings), [FindingKind::CardNumber]);
        assert_eq!(found(text, &findings), ["4111 1111 1111 1111"]);
        assert_eq!(findings[0].preview, "**** **** **** 1111");
    }

    #[test]
    fn card_number_layouts() {
        let text = "a 4111-1111-1111-1111 b 5555555555554444 c 3782 822463 10005 \
                    d 4111 1111 1111 1111 2025 e 4111 111 1111";
        let findings = scan(text);
        assert_eq!(
            found(text, &findings),
            [
                "4111-1111-1111-1111",
                "5555555555554444",
                "3782 822463 10005",
                "4111 1111 1111 1111"
            ]
        );
        assert_eq!(findings[0].preview, "****-****-****-1111");
        assert_eq!(findings[1].preview, "************4444");
    }

    #[test]
    fn luhn_valid_numbers_outside_card_ranges_are_not_cards() {
        // Luhn-valid, but a millisecond timestamp and a too-short id.
        assert!(luhn_valid(&ascii_digits("1735689600005")));
        assert!(scan("ts=1735689600005 id 79927398713").is_empty());
    }

    #[test]
    fn iban_needs_valid_check_digits() {
        let text = "Pay GB82 WEST 1234 5698 7654 32 EUR, not GB82 WEST 1234 5698 7654 33.";
        let findings = scan(text);
        assert_eq!(kinds(&findings), [FindingKind::Iban]);
        assert_eq!(found(text, &findings), ["GB82 WEST 1234 5698 7654 32"]);
        assert_eq!(findings[0].preview, "GB** **** **** **** **54 32");
    }

    #[test]
    fn iban_layouts() {
        let text =
            "GB82WEST12345698765432\nDE89 3704 0044 0532 0130 00\nXX12 DE89370400440532013000";
        let findings = scan(text);
        assert_eq!(kinds(&findings), [FindingKind::Iban; 3]);
        assert_eq!(
            found(text, &findings),
            [
                "GB82WEST12345698765432",
                "DE89 3704 0044 0532 0130 00",
                "DE89370400440532013000"
            ]
        );
        assert_eq!(
            findings.iter().map(|f| f.line).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert!(!is_valid_iban("GB01WEST12345698765432"));
        assert!(!is_valid_iban("GB82"));
    }

    #[test]
    fn aws_access_keys() {
        let text = "key=AKIAIOSFODNN7EXAMPLE ASIAY34FZKBOKMUTVV7A AKIAIOSFODNN7EXAMPLEX akiaiosfodnn7example";
        let findings = scan(text);
        assert_eq!(kinds(&findings), [FindingKind::AwsAccessKey; 2]);
        assert_eq!(findings[0].preview, "AKIA************MPLE");
        assert_eq!(found(text, &findings)[1], "ASIAY34FZKBOKMUTVV7A");
    }

    #[test]
    fn private_key_block_is_one_finding() {
        let text = format!("config:\n{RSA_KEY}\nafter AKIAIOSFODNN7EXAMPLE\n");
        let findings = scan(&text);
        assert_eq!(
            kinds(&findings),
            [FindingKind::PrivateKey, FindingKind::AwsAccessKey]
        );
        assert_eq!(found(&text, &findings)[0], RSA_KEY);
        assert_eq!(findings[0].line, 2);
        assert_eq!(findings[1].line, 11);
        assert_eq!(
            findings[0].preview,
            "-----BEGIN RSA PRIVATE KEY----- **** (9 lines)"
        );
    }

    #[test]
    fn private_key_without_end_runs_to_end_of_text() {
        let text = "x\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nAKIAIOSFODNN7EXAMPLE";
        let findings = scan(text);
        assert_eq!(kinds(&findings), [FindingKind::PrivateKey]);
        assert_eq!(findings[0].start, 2);
        assert_eq!(findings[0].end, text.len());
    }

    #[test]
    fn emails() {
        let text = "Mail john.doe@example.com or a+tag@mail.example.co.uk; not me@localhost.";
        let findings = scan(text);
        assert_eq!(kinds(&findings), [FindingKind::Email; 2]);
        assert_eq!(
            found(text, &findings),
            ["john.doe@example.com", "a+tag@mail.example.co.uk"]
        );
        assert_eq!(findings[0].preview, "j***@example.com");
        assert_eq!(findings[1].preview, "a***@mail.example.co.uk");
    }

    #[test]
    fn phones_in_common_formats() {
        let phones = [
            "+44 20 7946 0958",
            "(555) 123-4567",
            "555-123-4567",
            "+1-202-555-0143",
            "555.123.4567",
            "1-800-555-0199",
            "+1 (555) 123-4567",
            "+44 (0)20 7946 0958",
            "020 7946 0958",
            "+14155550123",
        ];
        for phone in phones {
            let text = format!("Call {phone}, thanks.");
            let findings = scan(&text);
            assert_eq!(kinds(&findings), [FindingKind::Phone], "{phone}");
            assert_eq!(found(&text, &findings), [phone]);
        }
        assert_eq!(scan("tel +44 20 7946 0958")[0].preview, "+** ** **** **58");
    }

    #[test]
    fn numbers_that_are_not_phones() {
        let texts = [
            "2025-01-31",
            "120000.50",
            "1999 2000 2024",
            "555-1234",
            "v1.2.3.4",
            "+120000.50",
            "+1234567.89",
            "1234567890",
            "ISBN 978-3-16-148410-0",
            "12-555-123-4567",
            "555-123-4567-89",
        ];
        for text in texts {
            assert!(scan(text).is_empty(), "{text}: {:?}", scan(text));
        }
    }

    #[test]
    fn quarterly_csv_has_no_findings() {
        let csv = "quarter,region,revenue\n2025-Q1,north,120000.50\n2025-01-31,south,98000.25\n\
                   2025-Q2,east,130500.00\n2025-06-30,west,1250000.75\n2024,total,448500.75\n";
        assert_eq!(scan(csv), []);
        assert_eq!(redact(csv).text, csv);
    }

    #[test]
    fn cards_and_ibans_take_precedence_over_phones() {
        let text = "+1 4111 1111 1111 1111";
        assert_eq!(kinds(&scan(text)), [FindingKind::CardNumber]);
        // A 13-digit card (4-3-3-3) inside a 14-digit international number.
        let text = "+4 4222 222 222 222";
        assert_eq!(found(text, &scan(text)), ["4222 222 222 222"]);
        assert_eq!(kinds(&scan(text)), [FindingKind::CardNumber]);
        // A phone pattern running on into a card number is cut back.
        let text = "+1-202-555-0143 4111111111111111";
        assert_eq!(
            found(text, &scan(text)),
            ["+1-202-555-0143", "4111111111111111"]
        );
    }

    #[test]
    fn overlapping_candidates_resolve_to_the_longer() {
        // A valid card number inside an e-mail address: the address wins.
        let text = "x4111111111111111y@example.com and 4111111111111111@example.com";
        let findings = scan(text);
        assert_eq!(kinds(&findings), [FindingKind::Email; 2]);
        // Digits inside an IBAN are not reported separately.
        let findings = scan("DE89 3704 0044 0532 0130 00");
        assert_eq!(kinds(&findings), [FindingKind::Iban]);
        // An access key spelled into an address is covered by the address.
        let findings = scan("AKIAIOSFODNN7EXAMPLE@example.com");
        assert_eq!(kinds(&findings), [FindingKind::Email]);
    }

    #[test]
    fn line_numbers_are_one_based() {
        let text = "first\r\nsecond john@example.com\n\nfourth 555-123-4567";
        let findings = scan(text);
        assert_eq!(findings.iter().map(|f| f.line).collect::<Vec<_>>(), [2, 4]);
    }

    #[test]
    fn redact_replaces_exactly_the_findings() {
        let text = format!(
            "Name: Zoë, mail zoe@example.org, tel +44 20 7946 0958.\n\
             Card 4111 1111 1111 1111; IBAN GB82 WEST 1234 5698 7654 32.\n\
             AWS AKIAIOSFODNN7EXAMPLE\n{RSA_KEY}\nEnd – ünïcode stays.\n"
        );
        let redacted = redact(&text);
        assert_eq!(
            redacted.text,
            "Name: Zoë, mail [REDACTED:email], tel [REDACTED:phone].\n\
             Card [REDACTED:card_number]; IBAN [REDACTED:iban].\n\
             AWS [REDACTED:aws_access_key]\n[REDACTED:private_key]\nEnd – ünïcode stays.\n"
        );
        assert_eq!(redacted.findings, scan(&text));
        // Putting the originals back restores the text byte for byte.
        let mut restored = redacted.text.clone();
        for finding in redacted.findings.iter().rev() {
            let placeholder = format!("[REDACTED:{}]", finding.kind.as_str());
            let at = restored.rfind(&placeholder).expect("placeholder present");
            restored.replace_range(
                at..at + placeholder.len(),
                &text[finding.start..finding.end],
            );
        }
        assert_eq!(restored, text);
    }

    #[test]
    fn previews_never_contain_the_secret() {
        let text = format!(
            "a.person@example.com +1-202-555-0143 4111111111111111 GB82WEST12345698765432 \
             AKIAIOSFODNN7EXAMPLE\n{RSA_KEY}"
        );
        let findings = scan(&text);
        assert_eq!(findings.len(), 6);
        for finding in &findings {
            let secret = &text[finding.start..finding.end];
            assert!(!finding.preview.contains(secret), "{finding:?}");
            assert!(!finding.preview.contains("MIIBOg"), "{finding:?}");
            assert!(!finding.preview.contains("person"), "{finding:?}");
        }
        assert_eq!(mask("1234", 2, 2), "****");
    }

    #[test]
    fn redact_json_reaches_keys_and_keeps_colliding_entries() {
        let mut value = serde_json::json!({
            "groups": {
                "ann@example.com": {"count": 2},
                "bob@example.org": {"count": 1},
                "north": {"note": "call +44 20 7946 0958"},
            },
            "list": ["x@example.com", 4, null],
        });
        assert_eq!(redact_json(&mut value), 4);
        assert_eq!(
            value,
            serde_json::json!({
                "groups": {
                    "[REDACTED:email]": {"count": 2},
                    "[REDACTED:email] #2": {"count": 1},
                    "north": {"note": "call [REDACTED:phone]"},
                },
                "list": ["[REDACTED:email]", 4, null],
            })
        );
        let mut clean = serde_json::json!({"quarter": "2025-Q1", "revenue": 120000.5});
        assert_eq!(redact_json(&mut clean), 0);
        assert_eq!(clean["quarter"], "2025-Q1");
    }

    #[test]
    fn summarize_counts_per_kind() {
        let findings = scan("a@example.com b@example.com 4111 1111 1111 1111");
        let counts = summarize(&findings);
        assert_eq!(
            counts.into_iter().collect::<Vec<_>>(),
            [(FindingKind::Email, 2), (FindingKind::CardNumber, 1)]
        );
        assert!(summarize(&[]).is_empty());
    }

    #[test]
    fn kind_names_match_serialisation() {
        let kinds = [
            FindingKind::Email,
            FindingKind::Phone,
            FindingKind::CardNumber,
            FindingKind::Iban,
            FindingKind::AwsAccessKey,
            FindingKind::PrivateKey,
        ];
        for kind in kinds {
            let json = serde_json::to_value(kind).expect("serialisable");
            assert_eq!(json, kind.as_str());
        }
        let finding = &scan("x@example.com")[0];
        let json = serde_json::to_value(finding).expect("serialisable");
        assert_eq!(json["kind"], "email");
        assert_eq!(json["preview"], "x***@example.com");
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        let inputs = [
            "",
            "@",
            "+",
            "+1",
            "()",
            "-----BEGIN PRIVATE KEY-----",
            "-----END PRIVATE KEY-----",
            "GB",
            "GB82",
            "AKIA",
            "日本語 4111 1111 1111 1111 é",
            "é@ü.de",
            "\u{feff}+44 20 7946 0958",
            "0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0",
            "4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4-4",
        ];
        for input in inputs {
            let redacted = redact(input);
            assert_eq!(redacted.findings, scan(input));
        }
        let long = "4111 ".repeat(10_000);
        let _ = redact(&long);
    }
}
