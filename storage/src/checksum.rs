//! CRC32C checksums, masked the way LevelDB masks them.
//!
//! A CRC stored next to the data it covers is *masked* (rotated and offset)
//! so that the CRC of a buffer that itself contains CRCs stays well
//! distributed. Every checksum that frys-storage writes to disk is masked.

#![forbid(unsafe_code)]

const MASK_DELTA: u32 = 0xa282_ead8;

/// The masked CRC32C of the concatenation of `parts`.
pub fn masked_crc32c(parts: &[&[u8]]) -> u32 {
    let crc = parts
        .iter()
        .fold(0, |crc, part| crc32c::crc32c_append(crc, part));
    mask(crc)
}

/// Masks a raw CRC32C for storage.
pub fn mask(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

/// Inverts [`mask`].
pub fn unmask(masked: u32) -> u32 {
    masked.wrapping_sub(MASK_DELTA).rotate_left(15)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_round_trips_and_changes_the_value() {
        for crc in [0u32, 1, 0xdead_beef, u32::MAX] {
            assert_eq!(unmask(mask(crc)), crc);
            assert_ne!(mask(crc), crc);
        }
    }

    #[test]
    fn crc_of_parts_equals_crc_of_concatenation() {
        // Known CRC32C test vector ("123456789" -> 0xe3069283).
        assert_eq!(unmask(masked_crc32c(&[b"123456789"])), 0xe306_9283);
        assert_eq!(
            masked_crc32c(&[b"1234", b"", b"56789"]),
            masked_crc32c(&[b"123456789"])
        );
    }
}
