//! The last known holder of an account, kept in the activity history without the
//! address: a fingerprint of it.
//!
//! A holder re-tagged by hand on an assigned account leaves tags that look like a
//! normal assignment (the event carries only the new value, the tags already show
//! it). To see the change, every `AccountAssigned` activity carries a mark
//! `[holder:<16 hex digits>]`, the FNV-1a hash of the lower-cased address: stable
//! across runs and releases, and no address in clear in the history.

use spa_core::lifecycle::Holder;

const OPEN: &str = "[holder:";

/// The fingerprint of a holder: 16 hexadecimal digits.
pub fn fingerprint(holder: &Holder) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in holder.as_str().to_ascii_lowercase().bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The mark of a holder in an activity's detail: masked address and fingerprint.
pub fn mark(holder: &Holder) -> String {
    format!("holder {} {OPEN}{}]", holder.masked(), fingerprint(holder))
}

/// The fingerprint in an activity's detail, if it carries a mark.
pub fn read_mark(detail: &str) -> Option<&str> {
    let start = detail.find(OPEN)? + OPEN.len();
    let digits = detail.get(start..start + 16)?;
    let closed = detail.get(start + 16..start + 17) == Some("]");
    (closed && digits.bytes().all(|b| b.is_ascii_hexdigit())).then_some(digits)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn marks_read_back_and_hide_the_address() {
        let jane = Holder::new("jane.doe@example.com").unwrap();
        let john = Holder::new("john.roe@example.com").unwrap();
        let text = format!("assigned; {}", mark(&jane));
        assert!(!text.contains("jane.doe"), "{text}");
        assert_eq!(read_mark(&text), Some(fingerprint(&jane).as_str()));
        assert_ne!(fingerprint(&jane), fingerprint(&john));
        assert_eq!(
            fingerprint(&Holder::new("Jane.Doe@Example.com").unwrap()),
            fingerprint(&jane)
        );
        assert_eq!(read_mark("no mark"), None);
        assert_eq!(read_mark("[holder:12]"), None);
    }
}
