//! Tokens are byte strings of 1 to `TOKEN_MAX` bytes; `Token` turns common keys into them.

use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::ops::Deref;

use crate::sys::EXITLEFT_TOKEN_MAX;

/// The bytes of a token: borrowed from the key, or made in place (no allocation).
pub enum TokenBytes<'a> {
    Borrowed(&'a [u8]),
    Inline([u8; 32], u8),
}

impl Deref for TokenBytes<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            TokenBytes::Borrowed(b) => b,
            TokenBytes::Inline(buf, len) => &buf[..*len as usize],
        }
    }
}

impl TokenBytes<'_> {
    fn inline(bytes: &[u8]) -> TokenBytes<'static> {
        let mut buf = [0u8; 32];
        buf[..bytes.len()].copy_from_slice(bytes);
        TokenBytes::Inline(buf, bytes.len() as u8)
    }
}

/// A key that names a ticket. Two keys name the same ticket when their bytes are equal.
///
/// Integers are their big-endian bytes (so `5u32` and `5u64` are different tokens).
/// A `SocketAddr` is the bytes of the normalised `struct sockaddr_in` or `sockaddr_in6` that
/// the C examples use (family, port, address, and the IPv6 scope; padding and flowinfo
/// zeroed), so a Rust head and a C head name a peer the same way. The library refuses an
/// empty token and one longer than `TOKEN_MAX` bytes with `EINVAL`.
pub trait Token {
    fn token_bytes(&self) -> TokenBytes<'_>;
}

/// The longest token, in bytes.
pub const TOKEN_MAX: usize = EXITLEFT_TOKEN_MAX;

impl<T: Token + ?Sized> Token for &T {
    fn token_bytes(&self) -> TokenBytes<'_> {
        (**self).token_bytes()
    }
}

impl Token for [u8] {
    fn token_bytes(&self) -> TokenBytes<'_> {
        TokenBytes::Borrowed(self)
    }
}

impl<const N: usize> Token for [u8; N] {
    fn token_bytes(&self) -> TokenBytes<'_> {
        TokenBytes::Borrowed(self)
    }
}

impl Token for Vec<u8> {
    fn token_bytes(&self) -> TokenBytes<'_> {
        TokenBytes::Borrowed(self)
    }
}

impl Token for str {
    fn token_bytes(&self) -> TokenBytes<'_> {
        TokenBytes::Borrowed(self.as_bytes())
    }
}

impl Token for String {
    fn token_bytes(&self) -> TokenBytes<'_> {
        TokenBytes::Borrowed(self.as_bytes())
    }
}

macro_rules! int_token {
    ($($t:ty)*) => {$(
        impl Token for $t {
            fn token_bytes(&self) -> TokenBytes<'_> {
                TokenBytes::inline(&self.to_be_bytes())
            }
        }
    )*};
}
int_token!(u8 u16 u32 u64 u128 usize i8 i16 i32 i64 i128 isize);

#[cfg(any(target_os = "linux", target_os = "android"))]
const AF_INET6: u16 = 10;
#[cfg(target_os = "freebsd")]
const AF_INET6: u16 = 28;
const AF_INET: u16 = 2;

impl Token for SocketAddrV4 {
    fn token_bytes(&self) -> TokenBytes<'_> {
        // struct sockaddr_in: family (host order), port (network order), address, zero[8]
        let mut b = [0u8; 16];
        b[0..2].copy_from_slice(&AF_INET.to_ne_bytes());
        b[2..4].copy_from_slice(&self.port().to_be_bytes());
        b[4..8].copy_from_slice(&self.ip().octets());
        TokenBytes::inline(&b)
    }
}

impl Token for SocketAddrV6 {
    fn token_bytes(&self) -> TokenBytes<'_> {
        // struct sockaddr_in6: family, port, flowinfo (zeroed: per packet, not identity),
        // address, scope id (host order: it tells link-local peers apart)
        let mut b = [0u8; 28];
        b[0..2].copy_from_slice(&AF_INET6.to_ne_bytes());
        b[2..4].copy_from_slice(&self.port().to_be_bytes());
        b[8..24].copy_from_slice(&self.ip().octets());
        b[24..28].copy_from_slice(&self.scope_id().to_ne_bytes());
        TokenBytes::inline(&b)
    }
}

impl Token for SocketAddr {
    fn token_bytes(&self) -> TokenBytes<'_> {
        match self {
            SocketAddr::V4(a) => a.token_bytes(),
            SocketAddr::V6(a) => a.token_bytes(),
        }
    }
}
