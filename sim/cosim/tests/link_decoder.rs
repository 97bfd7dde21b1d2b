//! The Verilated frame decoder against `leap_model::protocol::Decoder`: the same frames in the
//! same order and the same error counters on fuzzed byte streams, overlapping reception while
//! a frame is held, and the overflow rule.

use std::time::{Duration, Instant};

use leap_hdl::link::decoder::ERROR_READ_CLOCKS;
use leap_model::protocol::{
    crc32, Accept, Decoder, Frame, FrameError, LinkCounters, Opcode, MAX_PAYLOAD, SYNC,
};
use leap_verilator_sys::{variant_specs, Model, PortId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A frame as the decoder presents it; `payload` is `None` where the software decoder reports
/// only the opcode and sequence number (an unknown opcode).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Received {
    opcode: u8,
    seq: u16,
    payload: Option<Vec<u8>>,
}

/// What the test's consumer does on the frame ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Consumer {
    Waiting,
    /// Reading the payload; the address of byte `next - 1` was presented in the previous clock.
    Reading {
        next: usize,
    },
    /// Holding the frame for this many more clocks before the release strobe.
    Holding {
        clocks: u32,
    },
}

struct Ports {
    byte: PortId,
    byte_valid: PortId,
    clear_counters: PortId,
    frame_valid: PortId,
    frame_opcode: PortId,
    frame_seq: PortId,
    frame_length: PortId,
    payload_address: PortId,
    payload_byte: PortId,
    frame_release: PortId,
    error_select: PortId,
    error_reading: PortId,
    error_count: PortId,
    error_ready: PortId,
    unknown_opcode: PortId,
    replay: PortId,
}

/// The Verilated decoder with a consumer that reads every payload byte and releases each frame
/// after a chosen hold time.
struct Bench {
    model: Model,
    ports: Ports,
    consumer: Consumer,
    /// Header of the frame being read: opcode, seq, length, payload so far.
    current: Option<(u8, u16, usize, Vec<u8>)>,
    received: Vec<Received>,
    /// Clocks the consumer keeps each frame after reading it; `None` keeps it until the test
    /// changes the consumer's state.
    hold: Option<u32>,
    /// Last values driven on `byte_valid` and `frame_release`, to skip redundant calls.
    driven_valid: bool,
    driven_release: bool,
}

impl Bench {
    fn new(variant: &str, seed: u32) -> Bench {
        let mut model = Model::new(variant, seed);
        let ports = Ports {
            byte: model.port("byte"),
            byte_valid: model.port("byte_valid"),
            clear_counters: model.port("clear_counters"),
            frame_valid: model.port("frame_valid"),
            frame_opcode: model.port("frame_opcode"),
            frame_seq: model.port("frame_seq"),
            frame_length: model.port("frame_length"),
            payload_address: model.port("payload_address"),
            payload_byte: model.port("payload_byte"),
            frame_release: model.port("frame_release"),
            error_select: model.port("error_select"),
            error_reading: model.port("error_reading"),
            error_count: model.port("error_count"),
            error_ready: model.port("error_ready"),
            unknown_opcode: model.port("unknown_opcode"),
            replay: model.port("replay"),
        };
        for port in [
            ports.byte,
            ports.byte_valid,
            ports.clear_counters,
            ports.payload_address,
            ports.frame_release,
            ports.error_select,
            ports.error_reading,
            ports.unknown_opcode,
            ports.replay,
        ] {
            model.set(port, 0);
        }
        model.reset(2);
        Bench {
            model,
            ports,
            consumer: Consumer::Waiting,
            current: None,
            received: Vec::new(),
            hold: Some(0),
            driven_valid: false,
            driven_release: false,
        }
    }

    fn drive_valid(&mut self, valid: bool) {
        if valid != self.driven_valid {
            self.model.set(self.ports.byte_valid, valid as i64);
            self.driven_valid = valid;
        }
    }

    fn drive_release(&mut self, release: bool) {
        if release != self.driven_release {
            self.model.set(self.ports.frame_release, release as i64);
            self.driven_release = release;
        }
    }

    /// Runs one clock with `byte` on the input (or none) and the consumer's next action.
    fn step(&mut self, byte: Option<u8>) {
        match byte {
            Some(b) => {
                self.model.set(self.ports.byte, b as i64);
                self.drive_valid(true);
            }
            None => self.drive_valid(false),
        }
        self.drive_release(false);
        match self.consumer {
            Consumer::Waiting => {
                if self.model.get(self.ports.frame_valid) == 1 {
                    let opcode = self.model.get(self.ports.frame_opcode) as u8;
                    let seq = self.model.get(self.ports.frame_seq) as u16;
                    let length = self.model.get(self.ports.frame_length) as usize;
                    self.current = Some((opcode, seq, length, Vec::with_capacity(length)));
                    if length == 0 {
                        self.start_hold();
                    } else {
                        self.model.set(self.ports.payload_address, 0);
                        self.consumer = Consumer::Reading { next: 1 };
                    }
                }
            }
            Consumer::Reading { next } => {
                let value = self.model.get(self.ports.payload_byte) as u8;
                let (_, _, length, payload) = self.current.as_mut().expect("a frame is read");
                payload.push(value);
                let length = *length;
                if next < length {
                    self.model.set(self.ports.payload_address, next as i64);
                    self.consumer = Consumer::Reading { next: next + 1 };
                } else {
                    self.start_hold();
                }
            }
            Consumer::Holding { clocks: 0 } => self.release_now(),
            Consumer::Holding { clocks } => {
                if self.hold.is_some() {
                    self.consumer = Consumer::Holding { clocks: clocks - 1 };
                }
            }
        }
        self.model.clock();
    }

    fn start_hold(&mut self) {
        match self.hold {
            Some(0) => self.release_now(),
            Some(clocks) => self.consumer = Consumer::Holding { clocks: clocks - 1 },
            None => self.consumer = Consumer::Holding { clocks: u32::MAX },
        }
    }

    fn release_now(&mut self) {
        let (opcode, seq, _, payload) = self.current.take().expect("a frame is held");
        self.received.push(Received {
            opcode,
            seq,
            payload: Some(payload),
        });
        self.drive_release(true);
        self.consumer = Consumer::Waiting;
    }

    /// Returns whether the consumer has no frame and the decoder presents none.
    fn idle(&self) -> bool {
        self.consumer == Consumer::Waiting && self.model.get(self.ports.frame_valid) == 0
    }

    /// Reads the CRC, framing, length and timeout error counters through the read port, one
    /// after another, with no bytes arriving meanwhile.
    fn counters(&mut self) -> [u64; 4] {
        let mut counts = [0; 4];
        for (select, count) in counts.iter_mut().enumerate() {
            self.model.set(self.ports.error_select, select as i64);
            self.model.set(self.ports.error_reading, 1);
            self.model.eval();
            let mut clocks = 1;
            while self.model.get(self.ports.error_ready) == 0 {
                assert!(
                    clocks <= ERROR_READ_CLOCKS,
                    "error counter {select} was not ready within {ERROR_READ_CLOCKS} clocks"
                );
                self.step(None);
                self.model.eval();
                clocks += 1;
            }
            *count = self.model.get(self.ports.error_count) as u64;
            // `error_reading` falls for a clock between two reads.
            self.model.set(self.ports.error_reading, 0);
            self.step(None);
        }
        counts
    }

    fn clear_counters(&mut self) {
        self.model.set(self.ports.clear_counters, 1);
        self.step(None);
        self.model.set(self.ports.clear_counters, 0);
    }
}

fn software_counters(counters: LinkCounters) -> [u64; 4] {
    [
        counters.crc,
        counters.framing,
        counters.length,
        counters.timeout,
    ]
}

fn timeout_clocks(variant: &str) -> u64 {
    variant_specs()
        .into_iter()
        .find(|spec| spec.name == variant)
        .and_then(|spec| spec.link)
        .unwrap_or_else(|| panic!("no link variant named {variant}"))
        .timeout_clocks
}

/// Wire bytes of a frame with any opcode byte (the software `Frame` takes only known opcodes).
fn frame_bytes(opcode: u8, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut bytes = vec![SYNC, opcode];
    bytes.extend_from_slice(&seq.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u16).to_le_bytes());
    bytes.extend_from_slice(payload);
    let crc = crc32(&bytes[1..]);
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes
}

/// One byte of a stream and the clocks since the previous byte (at least 1).
#[derive(Clone, Copy, Debug)]
struct Timed {
    byte: u8,
    spacing: u64,
}

/// Builds a fuzzed stream: garbage, valid frames (known and unknown opcodes), cut frames, bad
/// CRCs, lengths above `max_payload` and gaps around the inter-byte timeout.
fn fuzz_stream(
    rng: &mut ChaCha8Rng,
    timeout: u64,
    max_payload: usize,
    allow_large: bool,
) -> Vec<Timed> {
    let mut stream = Vec::new();
    let mut gap_next = false;
    let pieces = rng.gen_range(1..=8);
    for _ in 0..pieces {
        let opcode = if rng.gen_bool(0.8) {
            Opcode::ALL[rng.gen_range(0..8)] as u8
        } else {
            rng.gen()
        };
        let length = if allow_large && rng.gen_bool(0.01) {
            rng.gen_range(0..=max_payload)
        } else {
            rng.gen_range(0..=48)
        };
        let payload: Vec<u8> = (0..length).map(|_| rng.gen()).collect();
        let mut frame = frame_bytes(opcode, rng.gen(), &payload);
        let bytes = match rng.gen_range(0..7) {
            // Garbage with false sync bytes.
            0 => (0..rng.gen_range(1..40))
                .map(|_| if rng.gen_bool(0.15) { SYNC } else { rng.gen() })
                .collect(),
            // A valid frame.
            1 | 2 => frame,
            // A cut frame.
            3 => {
                let cut = rng.gen_range(1..frame.len());
                frame.truncate(cut);
                frame
            }
            // One corrupted byte after the sync byte.
            4 => {
                let at = rng.gen_range(1..frame.len());
                frame[at] ^= 1 << rng.gen_range(0..8);
                frame
            }
            // An oversize length field.
            5 => {
                let length: u16 = rng.gen_range(max_payload as u16 + 1..=u16::MAX);
                frame[4..6].copy_from_slice(&length.to_le_bytes());
                frame.truncate(rng.gen_range(6..=frame.len()));
                frame
            }
            // A frame whose bytes all follow a gap at a random point.
            _ => {
                gap_next = true;
                frame
            }
        };
        let gap_at = gap_next.then(|| rng.gen_range(0..bytes.len().max(1)));
        gap_next = false;
        for (i, &byte) in bytes.iter().enumerate() {
            let spacing = if Some(i) == gap_at {
                // Either side of the timeout: exactly the timeout is no gap.
                match rng.gen_range(0..3) {
                    0 => timeout,
                    1 => timeout + 1,
                    _ => timeout + rng.gen_range(2..50),
                }
            } else if rng.gen_bool(0.5) {
                1
            } else {
                rng.gen_range(2..=6)
            };
            stream.push(Timed { byte, spacing });
        }
        if rng.gen_bool(0.2) {
            gap_next = true;
        }
    }
    stream
}

/// Feeds `stream` and then a valid frame after a gap to the Verilated decoder and to the
/// software decoder, and compares the frames and counters.
fn run_stream(
    bench: &mut Bench,
    software: &mut Decoder,
    base: Instant,
    stream: &[Timed],
    last: &[u8],
    timeout: u64,
    label: &str,
) {
    let mut expected = Vec::new();
    let record =
        |event: Option<Result<Frame, FrameError>>, expected: &mut Vec<Received>| match event {
            Some(Ok(frame)) => expected.push(Received {
                opcode: frame.opcode as u8,
                seq: frame.seq,
                payload: Some(frame.payload),
            }),
            Some(Err(FrameError::UnknownOpcode { opcode, seq })) => expected.push(Received {
                opcode,
                seq,
                payload: None,
            }),
            _ => {}
        };
    let first_received = bench.received.len();
    let tail = last.iter().enumerate().map(|(i, &byte)| Timed {
        byte,
        spacing: if i == 0 { timeout + 1 } else { 1 },
    });
    for timed in stream.iter().copied().chain(tail) {
        for _ in 1..timed.spacing {
            bench.step(None);
        }
        let now = base + Duration::from_nanos(bench.model.cycles());
        record(software.push(timed.byte, now), &mut expected);
        while let Some(event) = software.poll(now) {
            record(Some(event), &mut expected);
        }
        bench.step(Some(timed.byte));
    }

    // Run until the last frame was read and released, within a bound that also covers rescans.
    let bound = bench.model.cycles() + 64 * (stream.len() as u64 + 64) + 4 * timeout;
    while bench.received.len() - first_received < expected.len() || !bench.idle() {
        assert!(
            bench.model.cycles() < bound,
            "{label}: the decoder presented {} of {} frames and hung",
            bench.received.len() - first_received,
            expected.len()
        );
        bench.step(None);
    }
    let got = &bench.received[first_received..];
    assert_eq!(got.len(), expected.len(), "{label}: frame count");
    for (index, (got, want)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(
            (got.opcode, got.seq),
            (want.opcode, want.seq),
            "{label}: frame {index} header"
        );
        if let Some(payload) = &want.payload {
            assert_eq!(
                got.payload.as_ref(),
                Some(payload),
                "{label}: frame {index} payload"
            );
        }
    }
    assert_eq!(
        expected.last().map(|f| (f.opcode, f.seq)),
        Some((last[1], u16::from_le_bytes([last[2], last[3]]))),
        "{label}: the valid frame after the stream is received"
    );
    assert_eq!(
        bench.counters(),
        software_counters(software.counters()),
        "{label}: counters (crc, framing, length, timeout)"
    );
}

/// Feeds 10,000 fuzzed streams to the Verilated `variant` and to a software decoder bounded at
/// `max_payload`, and checks that both accept the same frames and count the same rejections.
fn fuzz_against_software(variant: &str, max_payload: usize, seed: u64) {
    const STREAMS: usize = 10_000;
    let timeout = timeout_clocks(variant);
    let mut bench = Bench::new(variant, 7);
    let mut software = Decoder::new(Accept::Requests, Duration::from_nanos(timeout));
    software.set_max_payload(max_payload);
    assert_eq!(
        software.max_payload(),
        max_payload,
        "software maximum payload"
    );
    let base = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);

    // Rejections of each kind over all streams, so the test shows that the fuzz reaches them.
    let mut totals = LinkCounters::default();
    for index in 0..STREAMS {
        bench.hold = Some(if rng.gen_bool(0.5) {
            0
        } else {
            rng.gen_range(1..40)
        });
        let stream = fuzz_stream(&mut rng, timeout, max_payload, true);
        let last_payload: Vec<u8> = (0..rng.gen_range(0..16)).map(|_| rng.gen()).collect();
        let last = frame_bytes(Opcode::Identify as u8, index as u16, &last_payload);
        run_stream(
            &mut bench,
            &mut software,
            base,
            &stream,
            &last,
            timeout,
            &format!("{variant} stream {index}"),
        );

        // Clear both decoders' counters now and then, while the hardware is idle.
        if index % 500 == 499 || index == STREAMS - 1 {
            let counters = software.counters();
            totals.crc += counters.crc;
            totals.framing += counters.framing;
            totals.length += counters.length;
            totals.timeout += counters.timeout;
            totals.unknown_opcode += counters.unknown_opcode;
            bench.clear_counters();
            software.reset_counters();
            assert_eq!(bench.counters(), [0; 4], "counters after clear_counters");
        }
    }

    let frames = bench.received.len();
    assert!(
        frames > 2 * STREAMS,
        "{variant}: only {frames} frames in {STREAMS} streams"
    );
    for (kind, count) in [
        ("CRC", totals.crc),
        ("framing", totals.framing),
        ("length", totals.length),
        ("timeout", totals.timeout),
        ("unknown opcode", totals.unknown_opcode),
    ] {
        assert!(
            count >= 1_000,
            "{variant}: only {count} {kind} rejections in {STREAMS} streams"
        );
    }
}

#[test]
fn decoder_matches_software_on_fuzzed_streams() {
    fuzz_against_software("decoder_4096", MAX_PAYLOAD, 0x1ea9_0001);
}

#[test]
fn small_decoder_matches_software_on_fuzzed_streams() {
    // The 256-byte variant against a software decoder bounded at 256: lengths from 257 up are
    // length errors in both.
    fuzz_against_software("decoder", 256, 0x1ea9_0002);
}

/// Sends `bytes` at one byte per clock.
fn send_back_to_back(bench: &mut Bench, bytes: &[u8]) {
    for &byte in bytes {
        bench.step(Some(byte));
    }
}

fn frame_of(seq: u16, length: usize) -> (Received, Vec<u8>) {
    let payload: Vec<u8> = (0..length).map(|i| (i * 7 + seq as usize) as u8).collect();
    let bytes = frame_bytes(Opcode::WriteMemory as u8, seq, &payload);
    (
        Received {
            opcode: Opcode::WriteMemory as u8,
            seq,
            payload: Some(payload),
        },
        bytes,
    )
}

#[test]
fn decoder_receives_while_frame_is_held() {
    let mut bench = Bench::new("decoder", 11);
    bench.hold = None;
    let (a, a_bytes) = frame_of(1, 256);
    let (b, b_bytes) = frame_of(2, 200);
    let (c, c_bytes) = frame_of(3, 17);
    let stream: Vec<u8> = [a_bytes, b_bytes, c_bytes].concat();
    send_back_to_back(&mut bench, &stream);
    // The consumer reads A's payload, one byte per clock, and holds A.
    let bound = bench.model.cycles() + 1_000;
    while !matches!(bench.consumer, Consumer::Holding { .. }) {
        assert!(bench.model.cycles() < bound, "frame A was not presented");
        bench.step(None);
    }
    for _ in 0..8 {
        bench.step(None);
    }
    assert_eq!(
        bench.current.as_ref().map(|f| f.1),
        Some(1),
        "frame A is held"
    );
    assert_eq!(bench.model.get(bench.ports.frame_seq), 1, "A is presented");

    // Release A: B is presented on the clock after the release strobe.
    bench.hold = Some(0);
    bench.consumer = Consumer::Holding { clocks: 0 };
    bench.step(None);
    assert_eq!(
        bench.model.get(bench.ports.frame_valid),
        1,
        "B is presented at once"
    );
    assert_eq!(
        bench.model.get(bench.ports.frame_seq),
        2,
        "B's sequence number"
    );

    let bound = bench.model.cycles() + 2_000;
    while bench.received.len() < 3 || !bench.idle() {
        assert!(bench.model.cycles() < bound, "frame C was not presented");
        bench.step(None);
    }
    assert_eq!(bench.received, vec![a, b, c]);
    assert_eq!(bench.counters(), [0; 4], "no errors");
}

#[test]
fn decoder_drops_bytes_when_ring_is_full() {
    // Ring of 1,024 bytes for a 256-byte maximum payload.
    let mut bench = Bench::new("decoder", 13);
    bench.hold = None;
    let (a, a_bytes) = frame_of(1, 200);
    let (b, b_bytes) = frame_of(2, 256);
    let (d, d_bytes) = frame_of(4, 9);
    send_back_to_back(&mut bench, &[a_bytes, b_bytes].concat());
    // 1,000 zero bytes while A and B are held: the ring keeps A's payload and CRC (204 bytes),
    // B (266 bytes) and 554 zero bytes, and drops the rest as one run.
    send_back_to_back(&mut bench, &[0u8; 1000]);
    assert!(matches!(bench.consumer, Consumer::Holding { .. }));
    bench.hold = Some(0);
    bench.consumer = Consumer::Holding { clocks: 0 };
    for _ in 0..2_000 {
        bench.step(None);
    }
    send_back_to_back(&mut bench, &d_bytes);
    let bound = bench.model.cycles() + 2_000;
    while bench.received.len() < 3 || !bench.idle() {
        assert!(bench.model.cycles() < bound, "frame D was not presented");
        bench.step(None);
    }
    assert_eq!(bench.received, vec![a, b, d]);
    // One framing error for the zero bytes kept in the ring, one for the dropped run.
    assert_eq!(
        bench.counters(),
        [0, 2, 0, 0],
        "counters (crc, framing, length, timeout)"
    );
}

#[test]
fn decoder_rejects_length_above_max_payload() {
    // The 256-byte variant bounds the length field at 256, not at the protocol's 4096.
    let mut bench = Bench::new("decoder", 17);
    let (_, mut long) = frame_of(5, 257);
    let (fits, fits_bytes) = frame_of(6, 256);
    long.truncate(6);
    send_back_to_back(&mut bench, &long);
    send_back_to_back(&mut bench, &fits_bytes);
    let bound = bench.model.cycles() + 2_000;
    while bench.received.is_empty() || !bench.idle() {
        assert!(
            bench.model.cycles() < bound,
            "the fitting frame was not presented"
        );
        bench.step(None);
    }
    assert_eq!(bench.received, vec![fits]);
    // The rescanned header bytes after the rejected sync byte are skipped without a new
    // framing error (they were examined before).
    assert_eq!(
        bench.counters(),
        [0, 0, 1, 0],
        "counters (crc, framing, length, timeout)"
    );
}
