//! HTTP rules of file serving, free of I/O: `Range` parsing and conditional requests.

use std::time::SystemTime;

use axum::http::{header, HeaderMap};

/// An inclusive byte range within a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// Last byte (inclusive).
    pub end: u64,
}

impl ByteRange {
    /// Bytes in the range.
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    /// Whether the range is empty (never, by construction).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// `Content-Range` value of this range in a file of `size` bytes.
    pub fn content_range(&self, size: u64) -> String {
        format!("bytes {}-{}/{size}", self.start, self.end)
    }
}

/// What a `Range` header asks of a file of a given size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable `Range` header (absent or malformed, which RFC 9110 says to ignore):
    /// the whole file.
    Full,
    /// These ranges, in the order asked, clamped to the file.
    Partial(Vec<ByteRange>),
    /// No range overlaps the file: 416.
    Unsatisfiable,
}

/// Interprets a `Range` header value for a file of `size` bytes.
pub fn parse_range(value: &str, size: u64) -> RangeRequest {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeRequest::Full;
    };
    let mut ranges = Vec::new();
    let mut any = false;
    for part in spec.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((first, last)) = part.split_once('-') else {
            return RangeRequest::Full;
        };
        let (first, last) = (first.trim(), last.trim());
        any = true;
        let range = if first.is_empty() {
            // Suffix range: the last N bytes.
            let Ok(n) = last.parse::<u64>() else {
                return RangeRequest::Full;
            };
            if n == 0 || size == 0 {
                None
            } else {
                Some(ByteRange {
                    start: size.saturating_sub(n),
                    end: size - 1,
                })
            }
        } else {
            let Ok(start) = first.parse::<u64>() else {
                return RangeRequest::Full;
            };
            let end = if last.is_empty() {
                u64::MAX
            } else {
                match last.parse::<u64>() {
                    Ok(end) if end >= start => end,
                    _ => return RangeRequest::Full,
                }
            };
            (start < size).then(|| ByteRange {
                start,
                end: end.min(size - 1),
            })
        };
        ranges.extend(range);
    }
    if !any {
        RangeRequest::Full
    } else if ranges.is_empty() {
        RangeRequest::Unsatisfiable
    } else {
        RangeRequest::Partial(ranges)
    }
}

/// The validators of a file: its entity tag (quoted) and modification time.
#[derive(Debug, Clone)]
pub struct Validators {
    /// Strong entity tag, quoted (`"<sha256>"`).
    pub etag: String,
    /// Last modification, whole seconds.
    pub last_modified: SystemTime,
}

impl Validators {
    /// `Last-Modified` header value.
    pub fn last_modified_header(&self) -> String {
        httpdate::fmt_http_date(self.last_modified)
    }

    /// Whether the request's conditions make this a `304 Not Modified`
    /// (`If-None-Match` wins over `If-Modified-Since`, as RFC 9110 says).
    pub fn not_modified(&self, headers: &HeaderMap) -> bool {
        if let Some(value) = header_str(headers, header::IF_NONE_MATCH) {
            return etag_list_matches(value, &self.etag);
        }
        if let Some(value) = header_str(headers, header::IF_MODIFIED_SINCE) {
            if let Ok(since) = httpdate::parse_http_date(value) {
                return self.last_modified <= since;
            }
        }
        false
    }

    /// Whether a `Range` applies: no `If-Range`, or one naming this very file
    /// (its strong entity tag or its exact modification date).
    pub fn range_applies(&self, headers: &HeaderMap) -> bool {
        let Some(value) = header_str(headers, header::IF_RANGE) else {
            return true;
        };
        let value = value.trim();
        if value.starts_with('"') {
            return value == self.etag;
        }
        if value.starts_with("W/") {
            return false;
        }
        httpdate::parse_http_date(value).is_ok_and(|date| date == self.last_modified)
    }
}

/// A header's value as text, when present and printable.
pub fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn etag_list_matches(list: &str, etag: &str) -> bool {
    let bare = etag.trim_matches('"');
    list.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.trim_start_matches("W/").trim_matches('"') == bare
    })
}

/// Whole seconds of a time (HTTP dates have no fractions).
pub fn truncate_to_seconds(time: SystemTime) -> SystemTime {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(d.as_secs()),
        Err(_) => SystemTime::UNIX_EPOCH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: u64, end: u64) -> ByteRange {
        ByteRange { start, end }
    }

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(
            parse_range("bytes=0-9", 100),
            RangeRequest::Partial(vec![r(0, 9)])
        );
        assert_eq!(
            parse_range("bytes=-10", 100),
            RangeRequest::Partial(vec![r(90, 99)])
        );
        assert_eq!(
            parse_range("bytes=-500", 100),
            RangeRequest::Partial(vec![r(0, 99)])
        );
        assert_eq!(
            parse_range("bytes=95-", 100),
            RangeRequest::Partial(vec![r(95, 99)])
        );
        assert_eq!(
            parse_range("bytes=90-200", 100),
            RangeRequest::Partial(vec![r(90, 99)])
        );
        assert_eq!(
            parse_range("bytes=0-1, 5-6", 100),
            RangeRequest::Partial(vec![r(0, 1), r(5, 6)])
        );
        assert_eq!(parse_range("bytes=100-", 100), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), RangeRequest::Unsatisfiable);
        assert_eq!(
            parse_range("bytes=100-,0-0", 100),
            RangeRequest::Partial(vec![r(0, 0)])
        );
        assert_eq!(parse_range("bytes=5-2", 100), RangeRequest::Full);
        assert_eq!(parse_range("bytes=x-2", 100), RangeRequest::Full);
        assert_eq!(parse_range("items=0-2", 100), RangeRequest::Full);
        assert_eq!(parse_range("bytes=0-", 0), RangeRequest::Unsatisfiable);
    }

    #[test]
    fn conditions_compare_etags_and_dates() {
        let v = Validators {
            etag: "\"abc\"".into(),
            last_modified: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000),
        };
        let mut h = HeaderMap::new();
        assert!(!v.not_modified(&h));
        h.insert(header::IF_NONE_MATCH, "\"x\", W/\"abc\"".parse().unwrap());
        assert!(v.not_modified(&h));
        h.insert(header::IF_NONE_MATCH, "\"x\"".parse().unwrap());
        h.insert(
            header::IF_MODIFIED_SINCE,
            v.last_modified_header().parse().unwrap(),
        );
        assert!(!v.not_modified(&h), "If-None-Match wins");
        h.remove(header::IF_NONE_MATCH);
        assert!(v.not_modified(&h));
        h.insert(header::IF_RANGE, "\"abc\"".parse().unwrap());
        assert!(v.range_applies(&h));
        h.insert(header::IF_RANGE, "\"abd\"".parse().unwrap());
        assert!(!v.range_applies(&h));
        h.insert(header::IF_RANGE, v.last_modified_header().parse().unwrap());
        assert!(v.range_applies(&h));
    }
}
