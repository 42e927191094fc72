//! Split points taken from the fuzzer's data, so that streaming decoders are fed the same
//! bytes in chunks of every shape.

/// Chunk lengths drawn from a seed: a small deterministic generator (xorshift64*), so that the
/// same input always replays the same chunking.
#[derive(Debug, Clone)]
pub struct Chunker {
    state: u64,
    max: usize,
}

impl Chunker {
    /// `seed` usually comes from a few bytes of the input. Its low two bits pick the shape:
    /// one byte at a time, chunks of up to 8 bytes, up to 64, or any length.
    pub fn new(seed: u64) -> Self {
        let max = match seed & 3 {
            0 => 1,
            1 => 8,
            2 => 64,
            _ => usize::MAX,
        };
        Chunker {
            // xorshift must not start at 0.
            state: seed | 1 << 63,
            max,
        }
    }

    /// The seed made of the first up to 8 bytes of `bytes` (little-endian).
    pub fn seed_from(bytes: &[u8]) -> u64 {
        let mut b = [0u8; 8];
        let n = bytes.len().min(8);
        b[..n].copy_from_slice(&bytes[..n]);
        u64::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// The length of the next chunk when `remaining` bytes are left (0 only when 0 are left).
    pub fn next_len(&mut self, remaining: usize) -> usize {
        if remaining == 0 {
            return 0;
        }
        let max = self.max.min(remaining) as u64;
        1 + (self.next_u64() % max) as usize
    }

    /// `bytes` cut into chunks.
    pub fn split<'a>(&mut self, bytes: &'a [u8]) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let (a, b) = rest.split_at(self.next_len(rest.len()));
            out.push(a);
            rest = b;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_input_in_order() {
        let bytes: Vec<u8> = (0..200).collect();
        for seed in 0..16 {
            let parts = Chunker::new(seed).split(&bytes);
            assert_eq!(parts.concat(), bytes);
            assert!(parts.iter().all(|p| !p.is_empty()));
            if seed & 3 == 0 {
                assert_eq!(parts.len(), 200);
            }
        }
    }
}
