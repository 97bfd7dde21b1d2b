//! The board behind its AXI-Stream shell (`board_axis`) against `SoftwareDevice`. Requests go in
//! as 64-bit beats with holes in `tkeep` and gaps in `tvalid`, and replies come out under random
//! back-pressure. Every reply frame must match the software device's and end on a `tlast` beat,
//! and every beat but a frame's last must carry 8 bytes.

use std::time::Instant;

use leap_model::config::Config;
use leap_model::protocol::{Accept, Decoder, Frame, Opcode, SoftwareDevice, INTER_BYTE_TIMEOUT};
use leap_verilator_sys::Model;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Clocks the whole session may take before the test reports the board as hung.
const MAX_CLOCKS: u64 = 3_000_000;

/// Decodes a reply byte stream into frames, zeroing the fields where the board differs from the
/// software device by design: the cycle counter, and the lanes and generator hash of the identity.
fn reply_frames(bytes: &[u8]) -> Vec<Frame> {
    let mut decoder = Decoder::new(Accept::Replies, INTER_BYTE_TIMEOUT);
    let now = Instant::now();
    let mut frames = Vec::new();
    for &byte in bytes {
        if let Some(event) = decoder.push(byte, now) {
            let mut frame =
                event.unwrap_or_else(|e| panic!("a reply stream has a bad frame: {e:?}"));
            if frame.opcode == Opcode::Counters {
                frame.payload[..8].fill(0);
            }
            if frame.opcode == Opcode::Identity {
                frame.payload[2..4].fill(0);
                frame.payload[28..36].fill(0);
            }
            frames.push(frame);
        }
    }
    frames
}

/// Identify, weight and rounding-state writes, a reset, a learning sample, an inference sample, a weight read, an unknown
/// opcode and the counters, as one request byte stream.
fn requests(rng: &mut ChaCha8Rng) -> (Vec<u8>, usize) {
    let config = Config::default();
    let limit = 1i32 << (config.fixed.weight_bits - 3);
    let mut write = vec![0x01, 0];
    let weights = config.synapses();
    write.extend_from_slice(&(weights as u16).to_le_bytes());
    write.extend_from_slice(&0u32.to_le_bytes());
    for _ in 0..weights {
        write.extend_from_slice(&rng.gen_range(-limit..limit).to_le_bytes());
    }
    let sample = |learn: bool, rng: &mut ChaCha8Rng| {
        let mut payload = vec![learn as u8, 0];
        payload.extend_from_slice(&4u16.to_le_bytes());
        for _ in 0..4 {
            payload.extend_from_slice(&rng.gen_range(0i16..4096).to_le_bytes());
        }
        if learn {
            for k in 0..3i16 {
                payload.extend_from_slice(&(if k == 1 { 4096i16 } else { 0 }).to_le_bytes());
            }
        }
        payload
    };
    let mut read = vec![0x01, 0];
    read.extend_from_slice(&300u16.to_le_bytes());
    read.extend_from_slice(&100u32.to_le_bytes());
    let mut rounding = vec![0x07, 0, 1, 0, 0, 0, 0, 0];
    rounding.extend_from_slice(&0x1234_5678u32.to_le_bytes());
    // Every weight, the neuron state and the rounding state are set, because the board's
    // memories start random.
    let frames = vec![
        Frame::new(Opcode::Identify, 1, Vec::new()),
        Frame::new(Opcode::WriteMemory, 2, write),
        Frame::new(Opcode::Reset, 8, vec![0x03]),
        Frame::new(Opcode::WriteMemory, 9, rounding),
        Frame::new(Opcode::RunSample, 3, sample(true, rng)),
        Frame::new(Opcode::RunSample, 4, sample(false, rng)),
        Frame::new(Opcode::ReadMemory, 5, read),
        Frame::new(Opcode::ReadCounters, 7, Vec::new()),
    ];
    let mut bytes = Vec::new();
    for frame in &frames {
        bytes.extend(frame.encode());
    }
    // An intact frame with an unknown opcode, which gets an error reply.
    let mut unknown = Frame::new(Opcode::ReadCounters, 6, Vec::new()).encode();
    unknown[1] = 0x42;
    let crc = leap_model::protocol::crc32(&unknown[1..6]);
    unknown[6..10].copy_from_slice(&crc.to_le_bytes());
    bytes.extend(unknown);
    (bytes, frames.len() + 1)
}

#[test]
fn axis_board_matches_software_device() {
    for seed in 0..3u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (stream, request_count) = requests(&mut rng);
        let mut software = SoftwareDevice::new(&Config::default()).unwrap();
        let expected = reply_frames(&software.receive(&stream, Instant::now()));
        assert_eq!(
            expected.len(),
            request_count,
            "seed {seed}: software replies"
        );

        let mut model = Model::new("board_axis_yinyang", 7 + seed as u32);
        let p = |name: &str| model.port(name);
        let (s_data, s_keep, s_valid, s_last, s_ready) = (
            p("s_axis_tdata"),
            p("s_axis_tkeep"),
            p("s_axis_tvalid"),
            p("s_axis_tlast"),
            p("s_axis_tready"),
        );
        let (m_data, m_keep, m_valid, m_last, m_ready) = (
            p("m_axis_tdata"),
            p("m_axis_tkeep"),
            p("m_axis_tvalid"),
            p("m_axis_tlast"),
            p("m_axis_tready"),
        );
        for port in [s_data, s_keep, s_valid, s_last, m_ready] {
            model.set(port, 0);
        }
        model.reset(8);

        let mut sent = 0;
        let mut beat: Option<(u64, u64)> = None;
        let mut received = Vec::new();
        let mut last_ends = Vec::new();
        let mut clocks = 0u64;
        while last_ends.len() < request_count {
            assert!(clocks < MAX_CLOCKS, "seed {seed}: the board hung");
            if beat.is_none() && sent < stream.len() && rng.gen_bool(0.7) {
                let (mut data, mut keep) = (0u64, 0u64);
                for lane in 0..8 {
                    if sent < stream.len() && rng.gen_bool(0.8) {
                        data |= (stream[sent] as u64) << (8 * lane);
                        keep |= 1 << lane;
                        sent += 1;
                    } else {
                        data |= (rng.gen::<u8>() as u64) << (8 * lane);
                    }
                }
                beat = Some((data, keep));
            }
            let offered = beat.unwrap_or((0, 0));
            model.set(s_data, offered.0 as i64);
            model.set(s_keep, offered.1 as i64);
            model.set(s_valid, beat.is_some() as i64);
            model.set(s_last, (sent == stream.len()) as i64);
            let ready = rng.gen_bool(0.6);
            model.set(m_ready, ready as i64);
            if beat.is_some() && model.get(s_ready) == 1 {
                beat = None;
            }
            if ready && model.get(m_valid) == 1 {
                let (data, keep) = (model.get(m_data), model.get(m_keep));
                assert_ne!(keep, 0, "seed {seed}: an empty beat");
                assert_eq!(
                    keep & (keep + 1),
                    0,
                    "seed {seed}: beat keep {keep:#04x} does not fill from lane 0"
                );
                let last = model.get(m_last) == 1;
                assert!(
                    last || keep == 0xff,
                    "seed {seed}: beat keep {keep:#04x} is short but does not end a frame"
                );
                for lane in 0..8 {
                    if keep >> lane & 1 == 1 {
                        received.push((data >> (8 * lane)) as u8);
                    }
                }
                if last {
                    last_ends.push(received.len());
                }
            }
            model.clock();
            clocks += 1;
        }
        let found = reply_frames(&received);
        assert_eq!(found, expected, "seed {seed}: replies differ");
        let mut ends = Vec::new();
        let mut end = 0;
        for frame in &found {
            end += frame.wire_len();
            ends.push(end);
        }
        assert_eq!(
            last_ends, ends,
            "seed {seed}: tlast does not mark the frame ends"
        );
    }
}
