//! Words of free text: the body of text and HTML parts, and header values such as Subject.
//!
//! Rules (after SpamBayes's tokenizer, which measured them): text is lowercased and split on
//! whitespace; surrounding punctuation that only ends sentences or quotes is trimmed, while
//! `!`, `$` and `%` stay (spam shouts them); words of 3 to 12 characters are tokens as they are;
//! longer words become one coarse `skip:<first char> <length rounded down to 10>` token (long
//! strings are mostly unique noise); shorter ones are dropped. A word with a digit also gives
//! its [`shape`] (`shape:$99.99`, `shape:9-999-999-9999`): prices, phone numbers and codes
//! rarely repeat, their forms do. URLs are reduced to their host
//! and its parent domains (`url:mail.example.com`, `url:example.com`); e-mail addresses in the
//! text to their domain. HTML is rendered to text first, with the hosts of `href`/`src`
//! attribute URLs kept as `url:` tokens.

use mail_parser::decoders::html::html_to_text;

use super::tokenize::Collector;

/// Longest word (in characters) kept as itself.
const MAX_WORD_CHARS: usize = 12;
/// Shortest word kept.
const MIN_WORD_CHARS: usize = 3;
/// Longest host name looked at.
const MAX_HOST_LEN: usize = 253;
/// Characters trimmed from both ends of a word.
const TRIM: &[char] = &['.', ',', ';', ':', '"', '\'', '(', ')', '[', ']', '<', '>', '{', '}', '*', '`', '?'];

/// Tokens of plain text. `prefix` names where the text came from (`subject`), or `None` for
/// the body.
pub fn plain(text: &str, prefix: Option<&str>, out: &mut Collector) {
    for raw in text.split_whitespace() {
        if out.is_full() {
            return;
        }
        let word = raw.trim_matches(TRIM);
        if word.is_empty() {
            continue;
        }
        if let Some(host) = url_host(word) {
            url(host, out);
            continue;
        }
        let lower = word.to_lowercase();
        if let Some((_, domain)) = lower.rsplit_once('@')
            && domain.contains('.')
        {
            out.add("email", domain.trim_matches(TRIM));
            continue;
        }
        if lower.bytes().any(|b| b.is_ascii_digit()) {
            match prefix {
                Some(p) => out.add(&format!("{p}:shape"), &shape(&lower)),
                None => out.add("shape", &shape(&lower)),
            }
        }
        let chars = lower.chars().count();
        if chars < MIN_WORD_CHARS {
            continue;
        }
        if chars <= MAX_WORD_CHARS {
            match prefix {
                Some(p) => out.add(p, &lower),
                None => out.add_bare(&lower),
            }
        } else if let Some(first) = lower.chars().next() {
            let coarse = format!("{first} {}", chars / 10 * 10);
            out.add(prefix.map_or("skip".to_string(), |p| format!("{p}:skip")).as_str(), &coarse);
        }
    }
}

/// Longest text whose shape is taken, in characters.
const MAX_SHAPE_CHARS: usize = 40;

/// The form of a string without its values: ASCII digits become `9`, ASCII letters `a`, other
/// letters `u`, anything else stays; a run of one class is cut to two (`99`, `aa`), so
/// `$1,299.00` is `$9,99.99` and `ab12cd345` is `aa99aa99`. Reads at most [`MAX_SHAPE_CHARS`].
pub fn shape(text: &str) -> String {
    let mut out = String::new();
    let mut last = None;
    let mut run = 0;
    for c in text.chars().take(MAX_SHAPE_CHARS) {
        let class = if c.is_ascii_digit() {
            '9'
        } else if c.is_ascii_alphabetic() {
            'a'
        } else if c.is_alphabetic() {
            'u'
        } else {
            c
        };
        let repeatable = matches!(class, '9' | 'a' | 'u');
        if Some(class) == last && repeatable {
            run += 1;
            if run > 2 {
                continue;
            }
        } else {
            run = 1;
        }
        last = Some(class);
        out.push(class);
    }
    out
}

/// Tokens of an HTML body: the visible text, and the hosts of linked and embedded URLs.
pub fn html(source: &str, out: &mut Collector) {
    for host in attribute_urls(source) {
        if out.is_full() {
            return;
        }
        url(host, out);
    }
    plain(&html_to_text(source), None, out);
}

/// `url:` tokens for a host and each of its parent domains with at least two labels.
pub fn url(host: &str, out: &mut Collector) {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() || host.len() > MAX_HOST_LEN {
        return;
    }
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        out.add("url", "ip");
        out.add("url", &host);
        return;
    }
    let mut rest = host.as_str();
    loop {
        out.add("url", rest);
        match rest.split_once('.') {
            Some((_, parent)) if parent.contains('.') => rest = parent,
            _ => break,
        }
    }
}

/// The host of a URL-looking word (`http://`, `https://`, `ftp://` or `www.`), if it is one.
pub fn url_host(word: &str) -> Option<&str> {
    let lower_starts = |p: &str| word.get(..p.len()).is_some_and(|s| s.eq_ignore_ascii_case(p));
    let rest = ["http://", "https://", "ftp://"]
        .iter()
        .find(|p| lower_starts(p))
        .map(|p| &word[p.len()..])
        .or_else(|| lower_starts("www.").then_some(word))?;
    let authority = rest.split(['/', '?', '#', '"', '\'', '>', '<']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host_port.split(':').next().unwrap_or_default();
    (!host.is_empty()).then_some(host)
}

/// Hosts of the URLs in `href=`, `src=` and `action=` attributes of HTML source.
fn attribute_urls(source: &str) -> impl Iterator<Item = &str> {
    source.split(['=', '<']).skip(1).filter_map(|after_eq| {
        let value = after_eq.trim_start().trim_start_matches(['"', '\'', '\\']);
        url_host(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(f: impl FnOnce(&mut Collector)) -> Vec<String> {
        let mut c = Collector::recording();
        f(&mut c);
        c.recorded()
    }

    #[test]
    fn words_are_lowercased_trimmed_and_bounded() {
        let got = words(|c| plain("Hello, WORLD! ab a-very-long-word-indeed \"quoted\" 100%", None, c));
        assert_eq!(got, ["hello", "world!", "skip:a 20", "quoted", "shape:99%", "100%"]);
    }

    #[test]
    fn shapes() {
        assert_eq!(shape("$1,299.00"), "$9,99.99");
        assert_eq!(shape("ab12cd345"), "aa99aa99");
        assert_eq!(shape("Grüße"), "aauua");
        assert_eq!(shape(&"9".repeat(1000)), "99");
        assert_eq!(
            words(|c| plain("call 1-800-555-0100 now", None, c)),
            ["call", "shape:9-99-99-99", "skip:1 10", "now"]
        );
    }

    #[test]
    fn prefixed_words() {
        assert_eq!(words(|c| plain("Free Money", Some("subject"), c)), ["subject:free", "subject:money"]);
    }

    #[test]
    fn urls_become_hosts() {
        let got = words(|c| plain("see <http://user@Mail.Example.COM:8080/x?y=1> or www.foo.org.", None, c));
        assert_eq!(got, ["see", "url:mail.example.com", "url:example.com", "url:www.foo.org", "url:foo.org"]);
        assert_eq!(words(|c| plain("http://10.0.0.1/a", None, c)), ["url:ip", "url:10.0.0.1"]);
        assert_eq!(
            words(|c| plain("mail bob@Example.org now", None, c)),
            ["mail", "email:example.org", "now"]
        );
    }

    #[test]
    fn html_text_and_links() {
        let got = words(|c| {
            html(
                "<p>Click <a href=\"https://buy.example.net/now\">here</a><img src=http://img.test/x.gif></p>",
                c,
            )
        });
        assert_eq!(
            got,
            ["url:buy.example.net", "url:example.net", "url:img.test", "click", "here"],
            "links first, then the visible words"
        );
    }
}
