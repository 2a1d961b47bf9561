//! Varint and fixed-width integer coding over byte slices.
//!
//! Decoders take a cursor (`&mut &[u8]`) and advance it past what they
//! read; they return `None` on truncated or overlong input.

/// Appends `v` as an unsigned LEB128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a varint of at most 64 bits.
pub(crate) fn get_varint64(input: &mut &[u8]) -> Option<u64> {
    let mut result = 0u64;
    for (i, &byte) in input.iter().enumerate().take(10) {
        let shift = 7 * i as u32;
        let bits = u64::from(byte & 0x7f);
        // The 10th byte may only carry the top bit of a u64.
        if i == 9 && bits > 1 {
            return None;
        }
        result |= bits << shift;
        if byte & 0x80 == 0 {
            *input = &input[i + 1..];
            return Some(result);
        }
    }
    None
}

/// Reads a varint that must fit in a u32.
pub(crate) fn get_varint32(input: &mut &[u8]) -> Option<u32> {
    get_varint64(input).and_then(|v| u32::try_from(v).ok())
}

/// Splits `n` bytes off the front of the cursor.
pub(crate) fn get_bytes<'a>(input: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, tail) = input.split_at_checked(n)?;
    *input = tail;
    Some(head)
}

/// Reads a little-endian u32.
pub(crate) fn get_u32_le(input: &mut &[u8]) -> Option<u32> {
    let bytes = get_bytes(input, 4)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

/// Reads a little-endian u64.
pub(crate) fn get_u64_le(input: &mut &[u8]) -> Option<u64> {
    let bytes = get_bytes(input, 8)?;
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_every_width() {
        let mut values = vec![0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX];
        values.extend((0..64).map(|s| 1u64 << s));
        for v in values {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            buf.push(0xaa);
            let mut cur = &buf[..];
            assert_eq!(get_varint64(&mut cur), Some(v));
            assert_eq!(cur, &[0xaa]);
        }
    }

    #[test]
    fn truncated_and_overlong_varints_are_rejected() {
        assert_eq!(get_varint64(&mut &[0x80u8, 0x80][..]), None);
        assert_eq!(get_varint64(&mut &[][..]), None);
        assert_eq!(get_varint64(&mut &[0xffu8; 11][..]), None);
        // 10th byte carrying more than one bit overflows a u64.
        let mut over = vec![0xffu8; 9];
        over.push(0x02);
        assert_eq!(get_varint64(&mut &over[..]), None);
        let mut big = Vec::new();
        put_varint(&mut big, u64::from(u32::MAX) + 1);
        assert_eq!(get_varint32(&mut &big[..]), None);
    }
}
