//! The frame check sequence: CRC-32/ISO-HDLC, the CRC-32 of Ethernet, zlib and PNG.
//!
//! Parameters: polynomial 0x04C11DB7, initial value 0xFFFFFFFF, input and output reflected
//! (bytes enter least significant bit first), final XOR 0xFFFFFFFF. The CRC of the ASCII string
//! "123456789" is 0xCBF43926. Because the initial value is nonzero, the CRC of one or more zero
//! bytes is not zero for any length a frame can have, which a test checks for every length. So a
//! frame of zero bytes with a zero CRC field is rejected.

/// Generator polynomial in normal (most significant bit first) notation, x^32 implied.
pub const CRC_POLYNOMIAL: u32 = 0x04C1_1DB7;
/// Register value before the first byte.
pub const CRC_INIT: u32 = 0xFFFF_FFFF;
/// Whether input bytes and the final CRC are bit-reflected (least significant bit first).
pub const CRC_REFLECTED: bool = true;
/// Value XORed into the register after the last byte.
pub const CRC_XOR_OUT: u32 = 0xFFFF_FFFF;
/// CRC of the nine ASCII bytes "123456789", the standard check value of a CRC variant.
pub const CRC_CHECK: u32 = 0xCBF4_3926;

/// Byte-at-a-time lookup table of the reflected polynomial.
const TABLE: [u32; 256] = build_table();

const fn build_table() -> [u32; 256] {
    let reflected = CRC_POLYNOMIAL.reverse_bits();
    let mut table = [0u32; 256];
    let mut index = 0;
    while index < 256 {
        let mut register = index as u32;
        let mut bit = 0;
        while bit < 8 {
            register = if register & 1 == 1 {
                (register >> 1) ^ reflected
            } else {
                register >> 1
            };
            bit += 1;
        }
        table[index] = register;
        index += 1;
    }
    table
}

/// An incremental CRC-32/ISO-HDLC computation.
#[derive(Clone, Copy, Debug)]
pub struct Crc32 {
    register: u32,
}

impl Default for Crc32 {
    fn default() -> Self {
        Crc32::new()
    }
}

impl Crc32 {
    pub const fn new() -> Crc32 {
        Crc32 { register: CRC_INIT }
    }

    /// Feeds `bytes` into the register.
    pub fn update(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            let index = ((self.register ^ byte as u32) & 0xFF) as usize;
            self.register = (self.register >> 8) ^ TABLE[index];
        }
    }

    /// Returns the CRC of the bytes fed so far.
    pub fn finish(&self) -> u32 {
        self.register ^ CRC_XOR_OUT
    }
}

/// Computes the CRC-32/ISO-HDLC of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = Crc32::new();
    crc.update(bytes);
    crc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_check_value() {
        assert_eq!(crc32(b"123456789"), CRC_CHECK);
        assert_eq!(CRC_CHECK, 0xCBF4_3926);
    }

    #[test]
    fn crc_incremental_equals_whole() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut crc = Crc32::new();
        for chunk in data.chunks(7) {
            crc.update(chunk);
        }
        assert_eq!(crc.finish(), crc32(&data));
    }

    #[test]
    fn crc_of_zero_bytes_is_nonzero() {
        // Every length a frame's checked bytes can have: the 5 header bytes after the sync byte
        // plus up to the maximum payload, and the shorter runs too.
        assert_eq!(
            crc32(&[]),
            0,
            "no bytes: the initial value and the final XOR cancel"
        );
        for len in 1..=(crate::protocol::HEADER_LEN - 1 + crate::protocol::MAX_PAYLOAD) {
            assert_ne!(crc32(&vec![0u8; len]), 0, "{len} zero bytes");
        }
    }

    #[test]
    fn crc_bitwise_definition_agrees() {
        // A direct bit-serial form of the same parameters, as the RTL computes it.
        fn bitwise(bytes: &[u8]) -> u32 {
            let mut register = CRC_INIT;
            for &byte in bytes {
                for bit in 0..8 {
                    let input = (byte >> bit) as u32 & 1;
                    let feedback = (register & 1) ^ input;
                    register >>= 1;
                    if feedback == 1 {
                        register ^= CRC_POLYNOMIAL.reverse_bits();
                    }
                }
            }
            register ^ CRC_XOR_OUT
        }
        for text in [
            &b""[..],
            b"123456789",
            b"\xA5\x01\x00\x00\x00\x00",
            &[0xFF; 40],
        ] {
            assert_eq!(bitwise(text), crc32(text));
        }
    }
}
