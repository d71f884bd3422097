//! Addresses and page geometry both access methods share: a tuple's
//! [`Tid`] (PostgreSQL's ItemPointerData layout) and the space accounting of
//! a page ([`PageGeometry`]).

use std::fmt;

/// A tuple address, laid out as PostgreSQL's ItemPointerData (block as two
/// u16 halves, high first, then the offset), so heap TIDs copy straight in.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Tid {
    pub block: u32,
    pub offset: u16,
}

impl fmt::Debug for Tid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({},{})", self.block, self.offset)
    }
}

impl Tid {
    pub const INVALID: Tid = Tid { block: u32::MAX, offset: 0 };
    pub const BYTES: usize = 6;

    pub fn is_valid(self) -> bool {
        self.offset != 0
    }

    pub fn write(self, out: &mut [u8]) {
        out[0..2].copy_from_slice(&((self.block >> 16) as u16).to_ne_bytes());
        out[2..4].copy_from_slice(&(self.block as u16).to_ne_bytes());
        out[4..6].copy_from_slice(&self.offset.to_ne_bytes());
    }

    pub fn read(b: &[u8]) -> Tid {
        let hi = u16::from_ne_bytes([b[0], b[1]]) as u32;
        let lo = u16::from_ne_bytes([b[2], b[3]]) as u32;
        Tid { block: (hi << 16) | lo, offset: u16::from_ne_bytes([b[4], b[5]]) }
    }
}

/// Space accounting of a PostgreSQL page, to decide where tuples go before
/// they are written (so neighbour TIDs can be known in advance).
#[derive(Clone, Copy, Debug)]
pub struct PageGeometry {
    /// Free bytes on an empty page: BLCKSZ − page header − MAXALIGN(special).
    pub empty_free: usize,
    pub maxalign: usize,
    pub item_id: usize,
}

impl PageGeometry {
    /// Bytes an item of `len` bytes takes from a page's free space.
    pub fn item_cost(&self, len: usize) -> usize {
        len.div_ceil(self.maxalign) * self.maxalign + self.item_id
    }
}
