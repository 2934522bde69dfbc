//! Arbitrary bytes from the peer: reading frames and decoding calls, replies and
//! structs must return errors, never panic or allocate what a length claims.
#![no_main]

use gx_protocol::{Call, CallError, Hello, Partition, StatNs, read_frame, wire};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut cur = std::io::Cursor::new(data);
    let mut buf = Vec::new();
    // A stream of frames, as the host or the agent would read it.
    for _ in 0..64 {
        match read_frame(&mut cur, &mut buf) {
            Ok(f) => {
                let _ = Call::decode(f.payload);
                let _ = wire::from_slice::<Hello>(f.payload);
                let _ = wire::from_slice::<CallError>(f.payload);
                let _ = wire::from_slice::<Vec<Partition>>(f.payload);
                let _ = wire::from_slice::<StatNs>(f.payload);
                let _ = wire::from_slice::<Vec<(String, String)>>(f.payload);
                if let Ok(c) = Call::decode(f.payload) {
                    // What decodes must re-encode to the same bytes.
                    assert_eq!(c.encode(), f.payload);
                }
            }
            Err(_) => break,
        }
    }
    // The payload decoders on raw bytes too, without a frame around them.
    let _ = Call::decode(data);
});
