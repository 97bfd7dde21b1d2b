//! The Verilated board top levels (frame decoder, command executor, engine, frame encoder)
//! against `SoftwareDevice` on the same byte streams: fuzzed streams at byte level into
//! `board_bytes`, and a short session bit by bit through the UART pins of `board`.

use std::time::{Duration, Instant};

use leap_cosim::board::RawFrame;
use leap_model::config::Config;
use leap_model::protocol::{Accept, Decoder, Frame, Opcode, SoftwareDevice, INTER_BYTE_TIMEOUT};
use leap_verilator_sys::{variant_specs, Model, PortId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SYNC: u8 = 0xA5;
/// Clocks the board must stay idle, with nothing to send, before a test stops clocking it,
/// besides four per byte received since the last time. The decoder's scanner examines one byte
/// per clock and rescans the bytes of rejected candidates, and the board looks idle meanwhile.
const SETTLE_CLOCKS: u64 = 64;
/// Clocks a single request may take before a test reports the board as hung.
const MAX_REQUEST_CLOCKS: u64 = 2_000_000;

fn link_of(variant: &str) -> leap_verilator_sys::LinkSize {
    variant_specs()
        .into_iter()
        .find(|spec| spec.name == variant)
        .and_then(|spec| spec.link)
        .unwrap_or_else(|| panic!("no board variant named {variant}"))
}

/// Decodes a reply byte stream into frames and zeroes the fields where the board differs from
/// the software device by design. These are the cycle counter of counters replies, because the
/// software device has no clock, and the lanes and generator hash of identity replies, because
/// it reports one lane.
fn reply_frames(bytes: &[u8]) -> Vec<Frame> {
    let mut decoder = Decoder::new(Accept::Replies, INTER_BYTE_TIMEOUT);
    let now = Instant::now();
    let mut frames = Vec::new();
    for &byte in bytes {
        let mut events = Vec::new();
        events.extend(decoder.push(byte, now));
        while let Some(event) = decoder.poll(now) {
            events.push(event);
        }
        for event in events {
            let mut frame =
                event.unwrap_or_else(|e| panic!("a reply stream holds a bad frame: {e:?}"));
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

/// Weights, zero neuron state and a rounding state, as requests for both devices.
fn state_requests() -> Vec<RawFrame> {
    let config = Config::default();
    let mut rng = ChaCha8Rng::seed_from_u64(41);
    let limit = 1i32 << (config.fixed.weight_bits - 2);
    let weights: Vec<i32> = (0..config.synapses())
        .map(|_| rng.gen_range(-limit..limit))
        .collect();
    let mut write = vec![1, 0];
    write.extend_from_slice(&(weights.len() as u16).to_le_bytes());
    write.extend_from_slice(&0u32.to_le_bytes());
    for w in &weights {
        write.extend_from_slice(&w.to_le_bytes());
    }
    let mut rounding = vec![7, 0, 1, 0, 0, 0, 0, 0];
    rounding.extend_from_slice(&0x0BAD_CAFEu32.to_le_bytes());
    vec![
        RawFrame {
            opcode: 0x03,
            seq: 1,
            payload: write,
        },
        RawFrame {
            opcode: 0x08,
            seq: 2,
            payload: vec![3],
        },
        RawFrame {
            opcode: 0x03,
            seq: 3,
            payload: rounding,
        },
    ]
}

struct BytePorts {
    rx_byte: PortId,
    rx_valid: PortId,
    tx_byte: PortId,
    tx_valid: PortId,
    tx_ready: PortId,
    idle: PortId,
}

/// The `board_bytes` model with the clock counted, so bytes can be spaced in clocks.
struct ByteBoard {
    model: Model,
    ports: BytePorts,
    sent: Vec<u8>,
    /// Bytes received since the last [`ByteBoard::settle`].
    unsettled_bytes: u64,
}

impl ByteBoard {
    fn new() -> ByteBoard {
        let mut model = Model::new("board_bytes_yinyang", 5);
        let ports = BytePorts {
            rx_byte: model.port("rx_byte"),
            rx_valid: model.port("rx_valid"),
            tx_byte: model.port("tx_byte"),
            tx_valid: model.port("tx_valid"),
            tx_ready: model.port("tx_ready"),
            idle: model.port("idle"),
        };
        model.set(ports.rx_valid, 0);
        model.set(ports.tx_ready, 1);
        model.reset(4);
        let mut board = ByteBoard {
            model,
            ports,
            sent: Vec::new(),
            unsettled_bytes: 0,
        };
        board.settle();
        board
    }

    /// Runs one clock, with `byte` on the receive port if given.
    fn clock(&mut self, byte: Option<u8>) {
        self.unsettled_bytes += byte.is_some() as u64;
        self.model.set(self.ports.rx_valid, byte.is_some() as i64);
        self.model.set(self.ports.rx_byte, byte.unwrap_or(0) as i64);
        if self.model.get(self.ports.tx_valid) == 1 {
            self.sent.push(self.model.get(self.ports.tx_byte) as u8);
        }
        self.model.clock();
        self.model.set(self.ports.rx_valid, 0);
    }

    /// Clocks until the board has been idle with nothing to send for [`SETTLE_CLOCKS`] plus four
    /// clocks per byte received since the last time.
    fn settle(&mut self) {
        let start = self.model.cycles();
        let settle = SETTLE_CLOCKS + 4 * self.unsettled_bytes;
        self.unsettled_bytes = 0;
        let mut quiet = 0;
        while quiet < settle {
            let idle =
                self.model.get(self.ports.idle) == 1 && self.model.get(self.ports.tx_valid) == 0;
            quiet = if idle { quiet + 1 } else { 0 };
            self.clock(None);
            assert!(
                self.model.cycles() - start < MAX_REQUEST_CLOCKS,
                "the board is still busy after {MAX_REQUEST_CLOCKS} clocks"
            );
        }
    }

    fn take_sent(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.sent)
    }
}

/// One byte of a fuzzed stream and the clocks since the previous byte (at least 1).
#[derive(Clone, Copy, Debug)]
struct Timed {
    byte: u8,
    spacing: u64,
}

/// Builds a fuzzed stream: garbage with false sync bytes, intact frames with any opcode, cut
/// frames, corrupted frames, oversize lengths, and gaps either side of the inter-byte timeout.
fn fuzz_stream(rng: &mut ChaCha8Rng, timeout: u64) -> Vec<Timed> {
    let mut stream = Vec::new();
    for _ in 0..rng.gen_range(1..=6) {
        let opcode = if rng.gen_bool(0.8) {
            rng.gen_range(0..=9)
        } else {
            rng.gen()
        };
        let length = rng.gen_range(0..=40);
        let frame = RawFrame {
            opcode,
            seq: rng.gen(),
            payload: (0..length).map(|_| rng.gen()).collect(),
        };
        let mut bytes = frame.encode();
        match rng.gen_range(0..6) {
            0 => {
                bytes = (0..rng.gen_range(1..30))
                    .map(|_| if rng.gen_bool(0.15) { SYNC } else { rng.gen() })
                    .collect()
            }
            1 => bytes.truncate(rng.gen_range(1..bytes.len())),
            2 => {
                let at = rng.gen_range(1..bytes.len());
                bytes[at] ^= 1 << rng.gen_range(0..8);
            }
            3 => {
                let length: u16 = rng.gen_range(4097..=u16::MAX);
                bytes[4..6].copy_from_slice(&length.to_le_bytes());
                bytes.truncate(rng.gen_range(6..=bytes.len()));
            }
            _ => {}
        }
        let gap_at = rng.gen_bool(0.2).then(|| rng.gen_range(0..bytes.len()));
        for (i, &byte) in bytes.iter().enumerate() {
            let spacing = if Some(i) == gap_at {
                match rng.gen_range(0..3) {
                    0 => timeout,
                    1 => timeout + 1,
                    _ => timeout + rng.gen_range(2..50),
                }
            } else {
                rng.gen_range(1..=4)
            };
            stream.push(Timed { byte, spacing });
        }
    }
    stream
}

/// Returns the wall-clock time of board clock `clock` for the software device, mapping the
/// inter-byte timeout in clocks onto 50 ms.
fn time_of(base: Instant, clock: u64, timeout_clocks: u64) -> Instant {
    let nanos = clock as u128 * INTER_BYTE_TIMEOUT.as_nanos() / timeout_clocks as u128;
    base + Duration::from_nanos(nanos as u64)
}

#[test]
fn fuzzed_streams_match_software() {
    const STREAMS: usize = 10_000;
    let timeout = link_of("board_bytes_yinyang").timeout_clocks;
    let mut board = ByteBoard::new();
    let mut software = SoftwareDevice::new(&Config::default()).unwrap();
    let base = Instant::now();
    let mut clock = 0u64;

    let send = |board: &mut ByteBoard,
                software: &mut SoftwareDevice,
                clock: &mut u64,
                bytes: &[u8],
                gap: u64|
     -> Vec<u8> {
        let mut replies = Vec::new();
        for (i, &byte) in bytes.iter().enumerate() {
            let spacing = if i == 0 { gap } else { 1 };
            for _ in 1..spacing {
                board.clock(None);
            }
            *clock += spacing;
            board.clock(Some(byte));
            replies.extend(software.receive(&[byte], time_of(base, *clock, timeout)));
        }
        replies
    };

    for request in state_requests() {
        let expected = send(
            &mut board,
            &mut software,
            &mut clock,
            &request.encode(),
            timeout + 10,
        );
        board.settle();
        assert_eq!(
            reply_frames(&board.take_sent()),
            reply_frames(&expected),
            "state request {}",
            request.seq
        );
    }

    let mut rng = ChaCha8Rng::seed_from_u64(43);
    let (mut board_frames, mut software_frames) = (0usize, 0usize);
    let mut last_counters = Vec::new();
    for stream_index in 0..STREAMS {
        let stream = fuzz_stream(&mut rng, timeout);
        let mut expected = Vec::new();
        for timed in &stream {
            for _ in 1..timed.spacing {
                board.clock(None);
            }
            clock += timed.spacing;
            board.clock(Some(timed.byte));
            expected.extend(software.receive(&[timed.byte], time_of(base, clock, timeout)));
        }
        // A valid frame after a gap longer than the timeout always gets its reply.
        let probe = RawFrame {
            opcode: 0x07,
            seq: stream_index as u16,
            payload: Vec::new(),
        };
        expected.extend(send(
            &mut board,
            &mut software,
            &mut clock,
            &probe.encode(),
            timeout + 10,
        ));
        expected.extend(software.poll(time_of(base, clock, timeout)));
        board.settle();
        let sent = board.take_sent();
        let (mut found, mut wanted) = (reply_frames(&sent), reply_frames(&expected));
        // The board's decoder keeps scanning while the executor works, so a read-counters
        // request inside a stream may already see errors in the bytes after it. Only the probe,
        // which nothing follows, must match its link error counters exactly.
        for frames in [&mut found, &mut wanted] {
            let count = frames.len();
            for frame in frames.iter_mut().take(count.saturating_sub(1)) {
                if frame.opcode == Opcode::Counters {
                    frame.payload[64..104].fill(0);
                }
            }
        }
        board_frames += found.len();
        software_frames += wanted.len();
        assert_eq!(found, wanted, "stream {stream_index}: {stream:?}");
        let last = found
            .last()
            .unwrap_or_else(|| panic!("stream {stream_index}: no reply to the probe"));
        assert_eq!(
            (last.opcode, last.seq),
            (Opcode::Counters, stream_index as u16),
            "stream {stream_index}: probe reply"
        );
        last_counters = last.payload.clone();
    }
    assert_eq!(
        board_frames, software_frames,
        "reply frames over all streams"
    );

    // The board's link error counters counted the damage: counters 8 to 12 of the last probe.
    let link: Vec<u64> = (8..13)
        .map(|i| u64::from_le_bytes(last_counters[8 * i..8 * i + 8].try_into().unwrap()))
        .collect();
    for (name, count) in ["crc", "framing", "length", "timeout", "unknown opcode"]
        .iter()
        .zip(&link)
    {
        assert!(
            *count > 0,
            "no {name} errors counted over {STREAMS} fuzzed streams"
        );
    }
    println!("board: {board_frames} replies over {STREAMS} fuzzed streams, link errors {link:?}, {clock} clocks");
}

/// The `board` model driven through its UART pins at the variant's clocks per bit.
struct UartBoard {
    model: Model,
    rx: PortId,
    tx: PortId,
    clocks_per_bit: u64,
    /// Receiver state for the board's `tx` line: clocks into the current byte, or `None` while
    /// the line is idle.
    receiving: Option<u64>,
    shift: u16,
    received: Vec<u8>,
}

impl UartBoard {
    fn new() -> UartBoard {
        let mut model = Model::new("board_yinyang", 9);
        let rx = model.port("rx");
        let tx = model.port("tx");
        model.set(rx, 1);
        model.reset(4);
        let mut board = UartBoard {
            model,
            rx,
            tx,
            clocks_per_bit: link_of("board_yinyang").clocks_per_bit as u64,
            receiving: None,
            shift: 0,
            received: Vec::new(),
        };
        board.idle(20_000);
        board
    }

    /// Runs one clock with `rx` at `level` and samples `tx` in the middle of each bit.
    fn clock(&mut self, level: bool) {
        self.model.set(self.rx, level as i64);
        self.model.clock();
        let tx = self.model.get(self.tx) == 1;
        let n = self.clocks_per_bit;
        match self.receiving {
            None if !tx => self.receiving = Some(1),
            None => {}
            Some(t) => {
                let t = t + 1;
                // Bit k (0 = start, 1..=8 data, 9 = stop) is sampled at its middle.
                if t % n == n / 2 {
                    let bit = t / n;
                    match bit {
                        0 => assert!(!tx, "a glitch in the start bit"),
                        1..=8 => self.shift |= (tx as u16) << (bit - 1),
                        _ => {
                            assert!(tx, "the board's stop bit is low");
                            self.received.push(self.shift as u8);
                            self.shift = 0;
                            self.receiving = None;
                            return;
                        }
                    }
                }
                self.receiving = Some(t);
            }
        }
    }

    fn idle(&mut self, clocks: u64) {
        for _ in 0..clocks {
            self.clock(true);
        }
    }

    /// Sends `bytes` as 8N1 frames, bit by bit, LSB first, with no idle time between them.
    fn send(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            let bits = std::iter::once(false)
                .chain((0..8).map(|i| byte >> i & 1 == 1))
                .chain(std::iter::once(true));
            for level in bits {
                for _ in 0..self.clocks_per_bit {
                    self.clock(level);
                }
            }
        }
    }

    /// Sends `frame` and clocks until a whole reply frame has come back on `tx`.
    fn request(&mut self, frame: &RawFrame) -> Vec<u8> {
        self.received.clear();
        self.send(&frame.encode());
        let start = self.model.cycles();
        loop {
            self.clock(true);
            if self.received.len() >= 6 {
                let length = u16::from_le_bytes([self.received[4], self.received[5]]) as usize;
                if self.received.len() == 10 + length && self.receiving.is_none() {
                    return std::mem::take(&mut self.received);
                }
            }
            assert!(
                self.model.cycles() - start < MAX_REQUEST_CLOCKS,
                "no whole reply to opcode {:#04x} within {MAX_REQUEST_CLOCKS} clocks; got {:?}",
                frame.opcode,
                self.received
            );
        }
    }
}

#[test]
fn uart_session_matches_software() {
    let mut board = UartBoard::new();
    let mut software = SoftwareDevice::new(&Config::default()).unwrap();
    let mut requests = state_requests();
    requests.push(RawFrame {
        opcode: 0x02,
        seq: 10,
        payload: vec![1, 0, 9, 0, 100, 0, 0, 0],
    });
    let mut sample = vec![1, 0, 4, 0];
    for w in [900i16, 3000, -100, 2048, 4096, 0, 0] {
        sample.extend_from_slice(&w.to_le_bytes());
    }
    requests.push(RawFrame {
        opcode: 0x05,
        seq: 11,
        payload: sample,
    });
    requests.push(RawFrame {
        opcode: 0x02,
        seq: 12,
        payload: vec![5, 0, 3, 0, 120, 0, 0, 0],
    });

    let identify = RawFrame {
        opcode: 0x01,
        seq: 9,
        payload: vec![],
    };
    let reply = board.request(&identify);
    let frames = reply_frames(&reply);
    assert_eq!(frames.len(), 1, "one identity reply");
    assert_eq!(frames[0].opcode, Opcode::Identity, "identity opcode");
    // reply_frames zeroes the lanes, so read them from the raw reply (header of 6 bytes).
    assert_eq!(reply[6 + 2], 2, "the board reports its two lanes");

    for request in requests {
        let found = board.request(&request);
        let expected = software.receive(&request.encode(), Instant::now());
        assert_eq!(
            found, expected,
            "reply to opcode {:#04x} seq {}",
            request.opcode, request.seq
        );
    }
}

#[test]
fn simulated_board_cuts_stalled_frame() {
    let config = Config::default();
    let mut board = leap_cosim::SimulatedBoard::new(&config).unwrap();
    let mut software = SoftwareDevice::new(&config).unwrap();
    let start = Instant::now();
    let later = |ms: u64| start + Duration::from_millis(ms);
    let counters = RawFrame {
        opcode: 0x07,
        seq: 2,
        payload: vec![],
    }
    .encode();
    let identify = RawFrame {
        opcode: 0x01,
        seq: 3,
        payload: vec![],
    }
    .encode();

    // Half a frame, then silence past the inter-byte timeout: both cut it off.
    let mut found = board.receive(&counters[..5], start);
    let mut expected = software.receive(&counters[..5], start);
    found.extend(board.poll(later(30)));
    expected.extend(software.poll(later(30)));
    assert!(found.is_empty(), "no reply before the timeout");
    found.extend(board.poll(later(60)));
    expected.extend(software.poll(later(60)));

    // Frames split across reads, and two frames in one read.
    found.extend(board.receive(&identify[..7], later(70)));
    expected.extend(software.receive(&identify[..7], later(70)));
    let rest = [&identify[7..], &counters[..]].concat();
    found.extend(board.receive(&rest, later(75)));
    expected.extend(software.receive(&rest, later(75)));

    let (found, expected) = (reply_frames(&found), reply_frames(&expected));
    assert_eq!(found.len(), 2, "replies to identify and read counters");
    assert_eq!(found[1], expected[1], "counters, with the timeout counted");
    let timeouts = u64::from_le_bytes(found[1].payload[88..96].try_into().unwrap());
    assert_eq!(timeouts, 1, "one timeout counted");
    assert_eq!(found[0].opcode, Opcode::Identity, "identity reply");
}
