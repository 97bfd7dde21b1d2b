//! The Verilated command executor (with the engine) against `SoftwareDevice`, request by
//! request: every reply must be byte-identical, except where the board differs by design (its
//! identity names its lanes and maximum payload, and it counts clock cycles).

use std::time::Instant;

use leap_cosim::board::{ExecutorDriver, RawFrame};
use leap_hdl::board::BoardConfig;
use leap_model::config::Config;
use leap_model::protocol::{Reply, SoftwareDevice};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const MODEL: &str = "executor_yinyang";
/// Clocks any single request of these tests may take (a sample is a few tens of thousands).
const MAX_CYCLES: u64 = 5_000_000;

const IDENTIFY: u8 = 0x01;
const READ_MEMORY: u8 = 0x02;
const WRITE_MEMORY: u8 = 0x03;
const SET_PARAMETERS: u8 = 0x04;
const RUN_SAMPLE: u8 = 0x05;
const QUEUE_SAMPLE: u8 = 0x06;
const READ_COUNTERS: u8 = 0x07;
const RESET: u8 = 0x08;

struct Pair {
    board: ExecutorDriver,
    software: SoftwareDevice,
    /// The network both devices run.
    config: Config,
    seq: u16,
}

impl Pair {
    fn new() -> Pair {
        Pair::for_model(MODEL, Config::default())
    }

    /// Pairs the Verilated executor `model` with a software device of `config`, the
    /// configuration the model was generated for.
    fn for_model(model: &str, config: Config) -> Pair {
        Pair {
            board: ExecutorDriver::new(model, 3),
            software: SoftwareDevice::new(&config).unwrap(),
            config,
            seq: 100,
        }
    }

    fn frame(&mut self, opcode: u8, payload: Vec<u8>) -> RawFrame {
        self.seq = self.seq.wrapping_add(1);
        RawFrame {
            opcode,
            seq: self.seq,
            payload,
        }
    }

    /// Sends `frame` to both devices and returns the board's reply and the software device's.
    fn both_frame(&mut self, frame: &RawFrame) -> (Vec<u8>, Vec<u8>) {
        let board = self.board.request(frame, MAX_CYCLES).encode();
        let software = self.software.receive(&frame.encode(), Instant::now());
        (board, software)
    }

    /// Sends a new frame to both devices and checks that the replies are equal.
    fn same(&mut self, case: &str, opcode: u8, payload: Vec<u8>) -> Vec<u8> {
        let frame = self.frame(opcode, payload);
        let (board, software) = self.both_frame(&frame);
        assert_eq!(
            board, software,
            "{case}: the board's reply (left) differs from the software device's (right)"
        );
        board
    }

    /// Loads the same weights, zero neuron state and rounding state into both devices.
    fn load_state(&mut self, seed: u64) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let weights = self.config.synapses();
        let limit = 1i32 << (self.config.fixed.weight_bits - 2);
        let words: Vec<i32> = (0..weights).map(|_| rng.gen_range(-limit..limit)).collect();
        for (chunk_index, chunk) in words.chunks(1000).enumerate() {
            self.same(
                "write weights",
                WRITE_MEMORY,
                memory_payload(1, (chunk_index * 1000) as u32, chunk),
            );
        }
        self.same("reset neuron state", RESET, vec![1]);
        self.same(
            "write rounding state",
            WRITE_MEMORY,
            memory_payload(7, 0, &[0x1234_5678]),
        );
    }
}

fn memory_header(memory: u8, offset: u32, count: u16) -> Vec<u8> {
    let mut bytes = vec![memory, 0];
    bytes.extend_from_slice(&count.to_le_bytes());
    bytes.extend_from_slice(&offset.to_le_bytes());
    bytes
}

fn memory_payload(memory: u8, offset: u32, words: &[i32]) -> Vec<u8> {
    let mut bytes = memory_header(memory, offset, words.len() as u16);
    for w in words {
        bytes.extend_from_slice(&w.to_le_bytes());
    }
    bytes
}

fn sample_payload(flags: u8, inputs: &[i16], targets: &[i16]) -> Vec<u8> {
    let mut bytes = vec![flags, 0];
    bytes.extend_from_slice(&(inputs.len() as u16).to_le_bytes());
    for w in inputs.iter().chain(targets) {
        bytes.extend_from_slice(&w.to_le_bytes());
    }
    bytes
}

/// Set-parameters payload with the configuration's values and the given overrides.
fn parameters_payload(config: &Config) -> Vec<u8> {
    let parameters = leap_model::protocol::EngineParameters::from_config(config, 1.0).unwrap();
    let frame = leap_model::protocol::Request::SetParameters(parameters).to_frame(0);
    frame.payload
}

#[test]
fn identity_and_length_errors() {
    let mut pair = Pair::new();
    let frame = pair.frame(IDENTIFY, vec![]);
    let reply = pair.board.request(&frame, MAX_CYCLES);
    let board = BoardConfig {
        config: Config::default(),
        engine: Default::default(),
        max_payload: 4096,
    };
    let expected = Reply::Identity(board.identity()).to_frame(frame.seq);
    assert_eq!(reply.opcode, 0x81, "identity reply opcode");
    assert_eq!(reply.payload, expected.payload, "identity payload");

    let cases: Vec<(&str, u8, Vec<u8>)> = vec![
        ("identify with a payload", IDENTIFY, vec![0]),
        ("read counters with a payload", READ_COUNTERS, vec![1, 2]),
        ("read memory, short", READ_MEMORY, vec![1, 0, 1, 0]),
        ("read memory, long", READ_MEMORY, vec![0; 9]),
        ("write memory, short", WRITE_MEMORY, vec![1, 0, 1]),
        ("set parameters, short", SET_PARAMETERS, vec![0; 27]),
        ("run sample, short", RUN_SAMPLE, vec![0; 3]),
        ("reset, empty", RESET, vec![]),
        ("reset, long", RESET, vec![1, 0]),
        ("unknown opcode 0x00", 0x00, vec![]),
        ("unknown opcode 0x09", 0x09, vec![1, 2, 3]),
        ("reply opcode as a request", 0x81, vec![]),
        ("error opcode as a request", 0xFF, vec![]),
    ];
    for (case, opcode, payload) in cases {
        pair.same(case, opcode, payload);
    }
}

#[test]
fn memory_errors_match() {
    let mut pair = Pair::new();
    let weights = Config::default().synapses() as u32;
    let cases: Vec<(&str, u8, Vec<u8>)> = vec![
        ("read unknown memory 0", READ_MEMORY, memory_header(0, 0, 1)),
        ("read unknown memory 8", READ_MEMORY, memory_header(8, 0, 1)),
        ("read 1023 words", READ_MEMORY, memory_header(1, 0, 1023)),
        (
            "read past the weights",
            READ_MEMORY,
            memory_header(1, weights - 2, 3),
        ),
        (
            "read past the neurons",
            READ_MEMORY,
            memory_header(2, 120, 4),
        ),
        (
            "read offset overflow",
            READ_MEMORY,
            memory_header(5, u32::MAX, 2),
        ),
        (
            "read two rounding words",
            READ_MEMORY,
            memory_header(7, 0, 2),
        ),
        ("write unknown memory", WRITE_MEMORY, memory_header(9, 0, 1)),
        (
            "write length mismatch",
            WRITE_MEMORY,
            memory_header(2, 0, 2),
        ),
        (
            "write past the end",
            WRITE_MEMORY,
            memory_payload(3, 122, &[0, 0]),
        ),
        (
            "write weight too large",
            WRITE_MEMORY,
            memory_payload(1, 0, &[0, 1 << 30, 0]),
        ),
        (
            "write potential too small",
            WRITE_MEMORY,
            memory_payload(2, 0, &[0, 0, i32::MIN]),
        ),
        (
            "write rate too large",
            WRITE_MEMORY,
            memory_payload(5, 0, &[40000]),
        ),
        (
            "write slope too small",
            WRITE_MEMORY,
            memory_payload(6, 3, &[1, -40000]),
        ),
        (
            "write rounding zero",
            WRITE_MEMORY,
            memory_payload(7, 0, &[0]),
        ),
    ];
    for (case, opcode, payload) in cases {
        pair.same(case, opcode, payload);
    }
}

#[test]
fn memory_reads_after_writes_match() {
    let mut pair = Pair::new();
    pair.load_state(5);
    let weights = Config::default().synapses() as u32;
    pair.same(
        "read all weights",
        READ_MEMORY,
        memory_header(1, 0, weights as u16),
    );
    pair.same(
        "read the last weights",
        READ_MEMORY,
        memory_header(1, weights - 10, 10),
    );
    pair.same(
        "read weights mid-row",
        READ_MEMORY,
        memory_header(1, 598, 9),
    );
    pair.same(
        "write potentials",
        WRITE_MEMORY,
        memory_payload(2, 118, &[5, -6, 7, -8, 9]),
    );
    pair.same(
        "write errors",
        WRITE_MEMORY,
        memory_payload(3, 0, &[-1000, 1000]),
    );
    pair.same(
        "write prospective",
        WRITE_MEMORY,
        memory_payload(4, 50, &[123456]),
    );
    pair.same(
        "write rates",
        WRITE_MEMORY,
        memory_payload(5, 7, &[-3, 4000]),
    );
    pair.same("write slopes", WRITE_MEMORY, memory_payload(6, 122, &[17]));
    for memory in 2..=6u8 {
        pair.same(
            "read neuron words",
            READ_MEMORY,
            memory_header(memory, 0, 123),
        );
    }
    pair.same("read rounding", READ_MEMORY, memory_header(7, 0, 1));
    pair.same("read nothing", READ_MEMORY, memory_header(1, 5, 0));
}

#[test]
fn parameter_errors_match() {
    let mut pair = Pair::new();
    let config = Config::default();
    let good = parameters_payload(&config);
    let with = |offset: usize, bytes: &[u8]| {
        let mut p = good.clone();
        p[offset..offset + bytes.len()].copy_from_slice(bytes);
        p
    };
    let coefficient = |mant: i16, shift: u16| {
        let mut b = mant.to_le_bytes().to_vec();
        b.extend_from_slice(&shift.to_le_bytes());
        b
    };
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("partial learning rate", good[..good.len() - 1].to_vec()),
        (
            "one learning rate too many",
            [good.clone(), vec![0; 4]].concat(),
        ),
        ("target kind 2", with(24, &[2])),
        ("learning 2", with(25, &[2])),
        ("steps 0", with(12, &0u32.to_le_bytes())),
        (
            "steps above a million",
            with(12, &1_000_001u32.to_le_bytes()),
        ),
        ("settle equal to steps", with(16, &good[12..16].to_vec())),
        ("dt/tau_m zero", with(0, &coefficient(0, 4))),
        ("dt/tau_m above 1", with(0, &coefficient(17, 4))),
        ("dt/tau_m exactly 1", with(0, &coefficient(16, 4))),
        ("tau_r/tau_m negative", with(4, &coefficient(-1, 4))),
        ("tau_r/tau_m above 4", with(4, &coefficient(65, 4))),
        ("beta above 16", with(8, &coefficient(257, 4))),
        ("beta tiny", with(8, &coefficient(1, 46))),
        ("eta above 1", with(28, &coefficient(3, 1))),
        ("eta negative", with(32, &coefficient(-3, 10))),
    ];
    for offset in [0, 4, 8, 28, 32] {
        cases.push(("shift 47", with(offset + 2, &47u16.to_le_bytes())));
    }
    cases.push(("the configuration's values", good.clone()));
    for (case, payload) in cases {
        pair.same(case, SET_PARAMETERS, payload);
    }
}

#[test]
fn samples_and_retries_match() {
    let mut pair = Pair::new();
    pair.load_state(9);
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let input =
        |rng: &mut ChaCha8Rng| -> Vec<i16> { (0..4).map(|_| rng.gen_range(0..4096)).collect() };

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("unknown flag", sample_payload(8, &[0; 4], &[])),
        (
            "potential flag without learn",
            sample_payload(4, &[0; 4], &[]),
        ),
        (
            "inputs cut off",
            sample_payload(0, &[0; 4], &[])[..10].to_vec(),
        ),
        (
            "extra bytes without learn",
            sample_payload(0, &[0; 4], &[1]),
        ),
        (
            "half a target word",
            [sample_payload(1, &[0; 4], &[1]), vec![0]].concat(),
        ),
        (
            "half a potential target word",
            sample_payload(5, &[0; 4], &[0; 3]),
        ),
        ("three inputs", sample_payload(0, &[0; 3], &[])),
        (
            "potential targets for a rate target",
            sample_payload(5, &[0; 4], &[0; 6]),
        ),
        ("two targets", sample_payload(1, &[0; 4], &[0; 2])),
    ];
    for (case, payload) in cases {
        pair.same(case, RUN_SAMPLE, payload);
    }

    for k in 0..4 {
        let x = input(&mut rng);
        let mut target = vec![0i16; 3];
        target[k % 3] = 4096;
        pair.same("learn sample", RUN_SAMPLE, sample_payload(1, &x, &target));
        pair.same("inference sample", RUN_SAMPLE, sample_payload(0, &x, &[]));
    }

    // A retry of a state-changing request gets the stored reply; a read is executed again.
    let x = input(&mut rng);
    let frame = pair.frame(RUN_SAMPLE, sample_payload(1, &x, &[4096, 0, 0]));
    let (first_board, first_software) = pair.both_frame(&frame);
    assert_eq!(
        first_board, first_software,
        "first run of the retried sample"
    );
    let (retry_board, retry_software) = pair.both_frame(&frame);
    assert_eq!(retry_board, retry_software, "retried sample");
    assert_eq!(retry_board, first_board, "the retry gets the stored reply");
    let counters = pair.frame(READ_COUNTERS, vec![]);
    let (board, software) = pair.both_frame(&counters);
    assert_eq!(
        board[14..board.len() - 4],
        software[14..software.len() - 4],
        "counters after a retry (cycles and CRC excluded)"
    );
    let cycles = u64::from_le_bytes(board[6..14].try_into().unwrap());
    assert!(cycles > 0, "the board counts clock cycles");

    let weights = Config::default().synapses() as u16;
    pair.same(
        "read weights after learning",
        READ_MEMORY,
        memory_header(1, 0, weights),
    );
    pair.same(
        "read rates after learning",
        READ_MEMORY,
        memory_header(5, 0, 123),
    );
    pair.same(
        "read rounding after learning",
        READ_MEMORY,
        memory_header(7, 0, 1),
    );

    pair.same(
        "the configuration's parameters",
        SET_PARAMETERS,
        parameters_payload(&Config::default()),
    );
    pair.same(
        "sample after set parameters",
        RUN_SAMPLE,
        sample_payload(1, &x, &[0, 4096, 0]),
    );

    // Voltage targets: potential words, range-checked.
    let mut voltage = Config::default();
    voltage.learning.target = leap_model::config::TargetKind::Voltage;
    pair.same(
        "voltage target",
        SET_PARAMETERS,
        parameters_payload(&voltage),
    );
    let mut targets = Vec::new();
    for w in [1i32 << 20, -(1 << 20), 1 << 30] {
        targets.extend_from_slice(&w.to_le_bytes());
    }
    let mut payload = sample_payload(5, &x, &[]);
    payload.extend_from_slice(&targets);
    pair.same("potential target out of range", RUN_SAMPLE, payload.clone());
    let good_targets: Vec<u8> = [1i32 << 20, -(1 << 20), 0]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    let mut payload = sample_payload(5, &x, &[]);
    payload.extend_from_slice(&good_targets);
    pair.same("potential targets", RUN_SAMPLE, payload);
    pair.same(
        "rate targets while voltage",
        RUN_SAMPLE,
        sample_payload(1, &x, &[0, 0, 0]),
    );
}

#[test]
fn reset_and_counters_match() {
    let mut pair = Pair::new();
    pair.load_state(13);
    pair.same("reset flags 4", RESET, vec![4]);
    pair.same(
        "sample",
        RUN_SAMPLE,
        sample_payload(1, &[100, 2000, 3000, 4000], &[4096, 0, 0]),
    );
    let frame = pair.frame(READ_COUNTERS, vec![]);
    let (board, software) = pair.both_frame(&frame);
    assert_eq!(
        board[14..board.len() - 4],
        software[14..software.len() - 4],
        "counters (cycles and CRC excluded)"
    );
    pair.same("reset neuron state", RESET, vec![1]);
    pair.same("rates after reset", READ_MEMORY, memory_header(5, 0, 123));
    pair.same("reset counters", RESET, vec![2]);
    let frame = pair.frame(READ_COUNTERS, vec![]);
    let (board, software) = pair.both_frame(&frame);
    assert_eq!(
        board[14..board.len() - 4],
        software[14..software.len() - 4],
        "counters after a counter reset (cycles and CRC excluded)"
    );
    pair.same("reset both", RESET, vec![3]);
}

fn queue_payload(flags: u8, records: &[(Vec<i16>, Vec<i16>)]) -> Vec<u8> {
    let mut bytes = vec![flags, 0];
    let inputs = records.first().map_or(4, |r| r.0.len());
    bytes.extend_from_slice(&(inputs as u16).to_le_bytes());
    bytes.extend_from_slice(&(records.len() as u16).to_le_bytes());
    for (input, target) in records {
        for w in input.iter().chain(target) {
            bytes.extend_from_slice(&w.to_le_bytes());
        }
    }
    bytes
}

fn error_payload(code: u8, opcode: u8, detail: u32) -> Vec<u8> {
    let mut bytes = vec![code, opcode, 0, 0];
    bytes.extend_from_slice(&detail.to_le_bytes());
    bytes
}

/// Sends `records` to the software device as one run-sample request each and returns the
/// sample-results payload that one queue frame of them must get: the saturation count after
/// the last sample, then every sample's rates.
fn software_queue_reply(pair: &mut Pair, learn: bool, records: &[(Vec<i16>, Vec<i16>)]) -> Vec<u8> {
    let mut rates = Vec::new();
    let mut saturations = Vec::new();
    for (input, target) in records {
        let frame = pair.frame(RUN_SAMPLE, sample_payload(learn as u8, input, target));
        let reply = pair.software.receive(&frame.encode(), Instant::now());
        let payload = &reply[6..reply.len() - 4];
        saturations = payload[..8].to_vec();
        rates.extend_from_slice(&payload[8..]);
    }
    [saturations, rates].concat()
}

#[test]
fn queue_frames_match_run_samples() {
    let mut pair = Pair::new();
    pair.load_state(21);
    let mut rng = ChaCha8Rng::seed_from_u64(23);
    let mut records = |k: usize, learn: bool| -> Vec<(Vec<i16>, Vec<i16>)> {
        (0..k)
            .map(|i| {
                let input: Vec<i16> = (0..4).map(|_| rng.gen_range(0..4096)).collect();
                let mut target = vec![0i16; 3];
                target[i % 3] = 4096;
                (input, if learn { target } else { Vec::new() })
            })
            .collect()
    };

    // A stream of three frames: k = 3 learning, k = 2 inference, k = 1 learning.
    let first = records(3, true);
    let frame = pair.frame(QUEUE_SAMPLE, queue_payload(0x03, &first));
    let seq = frame.seq;
    let reply = pair.board.request(&frame, MAX_CYCLES);
    let expected = software_queue_reply(&mut pair, true, &first);
    assert_eq!(reply.opcode, 0x86, "sample results opcode");
    assert_eq!(reply.seq, seq, "sample results seq");
    assert_eq!(reply.payload, expected, "results of the first queue frame");
    let cycles_per_sample = pair.board.last_request_cycles / 3;
    println!("board: {cycles_per_sample} clocks per learning sample in a queue frame");

    let second = records(2, false);
    let frame = RawFrame {
        opcode: QUEUE_SAMPLE,
        seq: seq.wrapping_add(1),
        payload: queue_payload(0x00, &second),
    };
    let reply = pair.board.request(&frame, MAX_CYCLES);
    let expected = software_queue_reply(&mut pair, false, &second);
    assert_eq!(reply.payload, expected, "results of the second queue frame");
    let retry = pair.board.request(&frame, MAX_CYCLES);
    assert_eq!(retry, reply, "a retried queue frame gets its stored reply");

    let skipped = RawFrame {
        opcode: QUEUE_SAMPLE,
        seq: seq.wrapping_add(5),
        payload: queue_payload(0x01, &records(1, true)),
    };
    let reply = pair.board.request(&skipped, MAX_CYCLES);
    let expected = error_payload(0x08, QUEUE_SAMPLE, seq.wrapping_add(2) as u32);
    assert_eq!(
        (reply.opcode, reply.payload),
        (0xFF, expected),
        "out-of-order frame"
    );

    let third = records(1, true);
    let frame = RawFrame {
        opcode: QUEUE_SAMPLE,
        seq: seq.wrapping_add(2),
        payload: queue_payload(0x01, &third),
    };
    let reply = pair.board.request(&frame, MAX_CYCLES);
    let expected = software_queue_reply(&mut pair, true, &third);
    assert_eq!(reply.payload, expected, "results of the third queue frame");

    let weights = Config::default().synapses() as u16;
    pair.same(
        "weights after the stream",
        READ_MEMORY,
        memory_header(1, 0, weights),
    );
    pair.same(
        "rates after the stream",
        READ_MEMORY,
        memory_header(5, 0, 123),
    );

    // Identify closes the stream.
    let frame = pair.frame(IDENTIFY, vec![]);
    pair.board.request(&frame, MAX_CYCLES);
    let frame = pair.frame(QUEUE_SAMPLE, queue_payload(0x01, &records(1, true)));
    let reply = pair.board.request(&frame, MAX_CYCLES);
    assert_eq!(
        reply.payload,
        error_payload(0x08, QUEUE_SAMPLE, u32::MAX),
        "no stream open"
    );
}

#[test]
fn queue_frame_errors() {
    let mut pair = Pair::new();
    let one = vec![(vec![1i16, 2, 3, 4], vec![4096i16, 0, 0])];
    let mut short_header = queue_payload(0x03, &one);
    short_header.truncate(5);
    let mut no_samples = queue_payload(0x03, &[]);
    no_samples[4] = 0;
    let mut cut = queue_payload(0x03, &one);
    cut.pop();
    let mut three_inputs = queue_payload(0x02, &[(vec![1, 2, 3], vec![])]);
    three_inputs[2] = 3;
    let cases: Vec<(&str, Vec<u8>, u8, u32)> = vec![
        ("short header", short_header, 0x02, 6),
        ("unknown flag", queue_payload(0x0A, &one), 0x0A, 0x0A),
        (
            "no start and no stream",
            queue_payload(0x01, &one),
            0x08,
            u32::MAX,
        ),
        ("three inputs", three_inputs, 0x07, 4),
        ("no samples", no_samples, 0x02, 6 + 14),
        ("cut record", cut, 0x02, 6 + 14),
        (
            "potential targets for a rate target",
            queue_payload(0x07, &[(vec![1, 2, 3, 4], vec![0; 6])]),
            0x0A,
            0x05,
        ),
    ];
    for (case, payload, code, detail) in cases {
        let frame = pair.frame(QUEUE_SAMPLE, payload);
        let reply = pair.board.request(&frame, MAX_CYCLES);
        assert_eq!(reply.opcode, 0xFF, "{case}: error opcode");
        assert_eq!(
            reply.payload,
            error_payload(code, QUEUE_SAMPLE, detail),
            "{case}"
        );
    }
}

#[test]
fn queue_frames_match_software() {
    let mut pair = Pair::new();
    pair.load_state(31);
    let mut rng = ChaCha8Rng::seed_from_u64(37);
    let mut records = |k: usize, learn: bool| -> Vec<(Vec<i16>, Vec<i16>)> {
        (0..k)
            .map(|i| {
                let input: Vec<i16> = (0..4).map(|_| rng.gen_range(-500..4600)).collect();
                let mut target = vec![0i16; 3];
                target[i % 3] = 4096;
                (input, if learn { target } else { Vec::new() })
            })
            .collect()
    };

    pair.same(
        "no stream open",
        QUEUE_SAMPLE,
        queue_payload(0x01, &records(1, true)),
    );
    pair.same(
        "stream start, k = 4",
        QUEUE_SAMPLE,
        queue_payload(0x03, &records(4, true)),
    );
    pair.same(
        "next frame, k = 2",
        QUEUE_SAMPLE,
        queue_payload(0x00, &records(2, false)),
    );
    let retried = pair.frame(QUEUE_SAMPLE, queue_payload(0x01, &records(3, true)));
    let (first_board, first_software) = pair.both_frame(&retried);
    assert_eq!(first_board, first_software, "queue frame before its retry");
    let (board, software) = pair.both_frame(&retried);
    assert_eq!(board, software, "retried queue frame");
    assert_eq!(board, first_board, "the retry gets the stored reply");
    pair.seq = pair.seq.wrapping_add(3);
    pair.same(
        "skipped sequence number",
        QUEUE_SAMPLE,
        queue_payload(0x01, &records(1, true)),
    );

    let mut no_samples = queue_payload(0x03, &records(1, true));
    no_samples.truncate(6);
    no_samples[4] = 0;
    let mut cut = queue_payload(0x03, &records(2, true));
    cut.pop();
    let mut three_inputs = queue_payload(0x02, &[(vec![1, 2, 3], vec![])]);
    three_inputs[2] = 3;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("short header", vec![0x03, 0, 4, 0, 1]),
        ("unknown flag", queue_payload(0x0B, &records(1, true))),
        ("three inputs", three_inputs),
        ("no samples", no_samples),
        ("cut record", cut),
        (
            "potential targets for a rate target",
            queue_payload(0x07, &[(vec![1, 2, 3, 4], vec![0; 6])]),
        ),
        ("restart, k = 5", queue_payload(0x03, &records(5, true))),
    ];
    for (case, payload) in cases {
        pair.same(case, QUEUE_SAMPLE, payload);
    }
    let weights = Config::default().synapses() as u16;
    pair.same(
        "weights after the stream",
        READ_MEMORY,
        memory_header(1, 0, weights),
    );
    let frame = pair.frame(READ_COUNTERS, vec![]);
    let (board, software) = pair.both_frame(&frame);
    assert_eq!(
        board[14..board.len() - 4],
        software[14..software.len() - 4],
        "counters after the stream (cycles and CRC excluded)"
    );
}

/// 255-256-2 at 2 lanes: the second layer's weights (network offsets 65,536 to 66,049) sit at
/// bank words 32,768 to 33,025, whose host addresses `(word << 1) | lane` need 17 bits. Writes,
/// reads and learning there must match the software device, and must leave the first layer's
/// words, whose addresses are the same modulo 2^16, unchanged.
#[test]
fn weights_above_16_bit_addresses_match() {
    let board = wide_board();
    let config = board.config.clone();
    let engine = board.engine;
    let layers = board.layers().unwrap();
    let first_layer_words = layers[0].rows * layers[0].groups;
    assert_eq!(
        first_layer_words << engine.bank_bits(),
        1 << 16,
        "the second layer's first host address"
    );
    let weights = config.synapses() as u32;
    assert_eq!(weights, 66_050, "weights of 255-256-2");
    let second_layer = 255 * 256 + 256;

    let mut pair = Pair::for_model("executor_wide", config);
    pair.load_state(21);
    for offset in (0..weights).step_by(1000) {
        let count = (weights - offset).min(1000) as u16;
        pair.same(
            "read weights after writing all",
            READ_MEMORY,
            memory_header(1, offset, count),
        );
    }
    pair.same(
        "read across the 16-bit boundary",
        READ_MEMORY,
        memory_header(1, second_layer - 5, 10),
    );
    pair.same(
        "write the second layer's first row",
        WRITE_MEMORY,
        memory_payload(
            1,
            second_layer,
            &(0..257).map(|i| 3 * i - 300).collect::<Vec<_>>(),
        ),
    );
    pair.same(
        "read the first layer's first row",
        READ_MEMORY,
        memory_header(1, 0, 256),
    );
    pair.same(
        "read the second layer's first row",
        READ_MEMORY,
        memory_header(1, second_layer, 257),
    );

    let mut rng = ChaCha8Rng::seed_from_u64(23);
    for k in 0..2 {
        let x: Vec<i16> = (0..255).map(|_| rng.gen_range(0..4096)).collect();
        let mut target = vec![0i16; 2];
        target[k] = 4096;
        pair.same("learn sample", RUN_SAMPLE, sample_payload(1, &x, &target));
        pair.same("inference sample", RUN_SAMPLE, sample_payload(0, &x, &[]));
    }
    pair.same(
        "read the second layer after learning",
        READ_MEMORY,
        memory_header(1, second_layer, 514),
    );
    pair.same(
        "read the first layer's first rows after learning",
        READ_MEMORY,
        memory_header(1, 0, 1000),
    );
}

/// Returns `payload` as hexadecimal bytes, for failure messages.
fn hex(payload: &[u8]) -> String {
    payload.iter().map(|b| format!("{b:02x}")).collect()
}

fn describe(frame: &RawFrame) -> String {
    format!(
        "opcode {:#04x} seq {} payload ({} bytes) {}",
        frame.opcode,
        frame.seq,
        frame.payload.len(),
        hex(&frame.payload)
    )
}

/// Generates mutated requests for [`fuzz_requests`]. It tracks the open stream and the current
/// target kind, so that many requests pass the first checks and reach the later ones.
struct FrameMutator {
    rng: ChaCha8Rng,
    config: Config,
    /// Sequence number the open stream's next queue frame needs. It is an estimate: a retried
    /// queue frame can leave it wrong, which only makes more frames out of order.
    stream_next: Option<u16>,
    voltage: bool,
}

impl FrameMutator {
    fn word(&mut self, memory: u8) -> i32 {
        let f = self.config.fixed;
        let (min, max) = match memory {
            1 => (f.weight().min(), f.weight().max()),
            2..=4 => (f.pot().min(), f.pot().max()),
            5 | 6 => (f.act().min(), f.act().max()),
            _ => (i32::MIN as i64, i32::MAX as i64),
        };
        let edges = [min, max, min - 1, max + 1, 0, -1, 1];
        match self.rng.gen_range(0..4) {
            0 => edges[self.rng.gen_range(0..edges.len())] as i32,
            1 => self.rng.gen(),
            _ => self.rng.gen_range(min / 4..=max / 4) as i32,
        }
    }

    fn memory_id(&mut self) -> u8 {
        match self.rng.gen_range(0..10) {
            0 => 0,
            1 => 8,
            2 => self.rng.gen(),
            _ => self.rng.gen_range(1..=7),
        }
    }

    fn offset_and_count(&mut self, memory: u8) -> (u32, u16) {
        let size = match memory {
            1 => self.config.synapses() as u32,
            7 => 1,
            _ => self.config.network.layers[1..].iter().sum::<usize>() as u32,
        };
        let count = match self.rng.gen_range(0..9) {
            0 => 0,
            1 => 1022,
            2 => 1023,
            3 => self.rng.gen(),
            4 => size.min(1022) as u16,
            _ => self.rng.gen_range(1..=6),
        };
        let offset = match self.rng.gen_range(0..7) {
            0 => 0,
            1 => size.saturating_sub(count as u32),
            2 => size.saturating_sub(count as u32) + 1,
            3 => size,
            4 => u32::MAX - self.rng.gen_range(0..4),
            5 => self.rng.gen(),
            _ => self.rng.gen_range(0..size),
        };
        (offset, count)
    }

    fn read_memory(&mut self) -> Vec<u8> {
        let memory = self.memory_id();
        let (offset, count) = self.offset_and_count(memory);
        memory_header(memory, offset, count.min(1100))
    }

    fn write_memory(&mut self) -> Vec<u8> {
        let memory = self.memory_id();
        let (offset, count) = self.offset_and_count(memory);
        let max_words = if self.rng.gen_bool(0.1) { 1022 } else { 12 };
        let words: Vec<i32> = (0..count.min(max_words))
            .map(|_| self.word(memory))
            .collect();
        let mut payload = memory_payload(memory, offset, &words);
        if self.rng.gen_bool(0.15) {
            // A count field that differs from the words sent.
            let count: u16 = match self.rng.gen_range(0..3) {
                0 => words.len() as u16 + 1,
                1 => (words.len() as u16).wrapping_sub(1),
                _ => self.rng.gen(),
            };
            payload[2..4].copy_from_slice(&count.to_le_bytes());
        }
        payload
    }

    /// Returns the configuration's parameters with the current target kind and learning on.
    fn good_parameters(&mut self) -> Vec<u8> {
        let mut payload = parameters_payload(&self.config);
        payload[24] = self.voltage as u8;
        payload
    }

    fn set_parameters(&mut self) -> Vec<u8> {
        let mut payload = self.good_parameters();
        if self.rng.gen_bool(0.2) {
            payload[24] = self.rng.gen_bool(0.5) as u8;
        }
        if self.rng.gen_bool(0.1) {
            payload[25] = 0;
        }
        if self.rng.gen_bool(0.3) {
            let rounding: u32 = if self.rng.gen_bool(0.5) {
                0
            } else {
                self.rng.gen()
            };
            payload[20..24].copy_from_slice(&rounding.to_le_bytes());
        }
        let mutations = self.rng.gen_range(0..=2);
        for _ in 0..mutations {
            self.mutate_parameter(&mut payload);
        }
        payload
    }

    fn mutate_parameter(&mut self, payload: &mut [u8]) {
        let coefficients = 3 + self.config.depth();
        match self.rng.gen_range(0..6) {
            0 | 1 => {
                let index = self.rng.gen_range(0..coefficients);
                let at = if index < 3 {
                    4 * index
                } else {
                    28 + 4 * (index - 3)
                };
                let shift_limit = leap_model::format::MAX_COEFFICIENT_SHIFT as u16;
                let shift: u16 = match self.rng.gen_range(0..6) {
                    0 => shift_limit,
                    1 => shift_limit + 1,
                    2 => self.rng.gen(),
                    _ => self.rng.gen_range(0..=shift_limit),
                };
                let mant: i16 = match self.rng.gen_range(0..5) {
                    0 => [0, 1, -1, i16::MAX, i16::MIN][self.rng.gen_range(0..5)],
                    1 => self.rng.gen(),
                    _ => self.rng.gen_range(-64..512),
                };
                if self.rng.gen_bool(0.7) {
                    payload[at..at + 2].copy_from_slice(&mant.to_le_bytes());
                }
                if self.rng.gen_bool(0.7) {
                    payload[at + 2..at + 4].copy_from_slice(&shift.to_le_bytes());
                }
            }
            2 | 3 => {
                let steps: u32 = [
                    0,
                    1,
                    2,
                    5,
                    1_000_000,
                    1_000_001,
                    (1 << 20) - 1,
                    1 << 20,
                    (1 << 20) + 3,
                    u32::MAX,
                    self.rng.gen(),
                ][self.rng.gen_range(0..11)];
                let settle: u32 = match self.rng.gen_range(0..7) {
                    0 => steps,
                    1 => steps.wrapping_add(1),
                    2 => steps.wrapping_sub(1),
                    3 => 0,
                    4 => self.rng.gen(),
                    5 => (1 << 20) + self.rng.gen_range(0..3),
                    _ => steps.saturating_sub(self.rng.gen_range(1..4)),
                };
                payload[12..16].copy_from_slice(&steps.to_le_bytes());
                payload[16..20].copy_from_slice(&settle.to_le_bytes());
            }
            4 => payload[24] = [0, 1, 2, 0xFF, self.rng.gen()][self.rng.gen_range(0..5)],
            _ => {
                let at = [25, 26, 27][self.rng.gen_range(0..3)];
                payload[at] = [0, 1, 2, 0x80, self.rng.gen()][self.rng.gen_range(0..5)];
            }
        }
    }

    fn sample_flags(&mut self, queue: bool) -> u8 {
        let base = match self.rng.gen_range(0..12) {
            0 => 4,
            1 => 8,
            2 => self.rng.gen(),
            3 | 4 | 5 => 0,
            _ if self.voltage != self.rng.gen_bool(0.1) => 5,
            _ => 1,
        };
        if queue || self.rng.gen_bool(0.1) {
            base | (self.rng.gen_bool(0.3) as u8) << 1
        } else {
            base
        }
    }

    /// Returns one sample record for `flags`: inputs, then rate or potential targets.
    fn record(&mut self, flags: u8, inputs: usize) -> Vec<u8> {
        let mut bytes = Vec::new();
        for _ in 0..inputs {
            let w: i16 = match self.rng.gen_range(0..8) {
                0 => self.rng.gen(),
                _ => self.rng.gen_range(-200..4300),
            };
            bytes.extend_from_slice(&w.to_le_bytes());
        }
        if flags & 1 != 0 {
            for _ in 0..self.config.n_outputs() {
                if flags & 4 != 0 {
                    let w = self.word(2);
                    bytes.extend_from_slice(&w.to_le_bytes());
                } else {
                    let w: i16 = [0, 4096, self.rng.gen()][self.rng.gen_range(0..3)];
                    bytes.extend_from_slice(&w.to_le_bytes());
                }
            }
        }
        bytes
    }

    fn input_count(&mut self) -> u16 {
        let n = self.config.n_inputs() as u16;
        match self.rng.gen_range(0..12) {
            0 => n - 1,
            1 => n + 1,
            2 => self.rng.gen(),
            _ => n,
        }
    }

    fn run_sample(&mut self) -> Vec<u8> {
        let flags = self.sample_flags(false);
        let inputs = self.input_count();
        let mut payload = vec![flags, 0];
        payload.extend_from_slice(&inputs.to_le_bytes());
        payload.extend(self.record(flags, (inputs as usize).min(self.config.n_inputs() + 2)));
        payload
    }

    /// Returns a queue-samples payload of 1 to 3 records and the sequence number to send it
    /// with.
    fn queue_sample(&mut self, next_seq: u16) -> (Vec<u8>, u16) {
        let mut flags = self.sample_flags(true);
        if self.stream_next.is_none() && self.rng.gen_bool(0.7) {
            flags |= 2;
        }

        let inputs = self.input_count();
        let inputs_sent = (inputs as usize).min(self.config.n_inputs() + 2);
        let mut k: u16 = self.rng.gen_range(1..=3);
        if self.rng.gen_bool(0.03) {
            // As many records as fit the 4,096-byte maximum payload, up to the samples whose
            // results fit one reply.
            let record = self.record(flags, inputs_sent).len().max(1);
            let outputs = self.config.n_outputs();
            k = ((4096 - 6) / record).min((4096 - 8) / (2 * outputs)).max(1) as u16;
        }

        let mut payload = vec![flags, 0];
        payload.extend_from_slice(&inputs.to_le_bytes());
        payload.extend_from_slice(&k.to_le_bytes());
        for _ in 0..k {
            payload.extend(self.record(flags, inputs_sent));
        }
        if self.rng.gen_bool(0.1) {
            let count: u16 =
                [0, k + 1, k - 1, 293, u16::MAX, self.rng.gen()][self.rng.gen_range(0..6)];
            payload[4..6].copy_from_slice(&count.to_le_bytes());
        }

        let expected = self.stream_next.unwrap_or(next_seq);
        let seq = match self.rng.gen_range(0..11) {
            0 => expected.wrapping_add(1),
            1 => expected.wrapping_sub(1),
            2 => self.rng.gen(),
            3 => u16::MAX,
            _ => expected,
        };
        (payload, seq)
    }

    fn reset(&mut self) -> Vec<u8> {
        vec![[0, 1, 2, 3, 4, 0x80, self.rng.gen()][self.rng.gen_range(0..7)]]
    }

    /// Cuts the payload short, extends it, or flips a byte of its first eight. The payload
    /// stays within the 4,096-byte maximum, because the frame decoder drops longer frames
    /// before the executor receives them.
    fn damage(&mut self, payload: &mut Vec<u8>) {
        match self.rng.gen_range(0..3) {
            0 => {
                let cut = self.rng.gen_range(1..=4).min(payload.len());
                payload.truncate(payload.len() - cut);
            }
            1 => {
                for _ in 0..self.rng.gen_range(1..=4) {
                    payload.push(self.rng.gen());
                }
            }
            _ => {
                if !payload.is_empty() {
                    let at = self.rng.gen_range(0..payload.len().min(8));
                    payload[at] ^= 1 << self.rng.gen_range(0..8);
                }
            }
        }
        payload.truncate(4096);
    }
}

/// Compares the replies of both devices to `frame`. Identity replies and the counters' cycle
/// count differ by design, so the identity is checked against `identity`, the board's own
/// payload, and the cycle count is left out.
fn check_replies(
    pair: &mut Pair,
    identity: &[u8],
    frame: &RawFrame,
    history: &[RawFrame],
) -> Vec<u8> {
    let (board, software) = pair.both_frame(frame);
    let context = || {
        let recent: Vec<String> = history.iter().rev().take(6).map(describe).collect();
        format!(
            "frame {}: {}\nthe frames before it, latest first:\n  {}",
            history.len(),
            describe(frame),
            recent.join("\n  ")
        )
    };
    assert!(software.len() >= 10, "no software reply to {}", context());
    if software[1] == 0x81 {
        let expected = RawFrame {
            opcode: 0x81,
            seq: frame.seq,
            payload: identity.to_vec(),
        };
        assert_eq!(board, expected.encode(), "identity reply to {}", context());
    } else if software[1] == 0x87 {
        assert_eq!(
            board.len(),
            software.len(),
            "counters length for {}",
            context()
        );
        assert_eq!(
            board[..6],
            software[..6],
            "counters header for {}",
            context()
        );
        assert_eq!(
            board[14..board.len() - 4],
            software[14..software.len() - 4],
            "counters other than cycles for {}",
            context()
        );
    } else {
        assert_eq!(
            hex(&board),
            hex(&software),
            "the board's reply (left) differs from the software device's (right) for {}",
            context()
        );
    }
    software
}

/// Sends `frames` mutated requests of every opcode, interleaved with retries and stream frames
/// out of order, and requires the same reply from the board and the software device. The
/// board's identity payload is `identity`. The environment variables `LEAP_FUZZ_SEED` and
/// `LEAP_FUZZ_FRAMES` override `seed` and `frames` for longer runs by hand.
fn fuzz_requests(mut pair: Pair, identity: &[u8], seed: u64, frames: usize) {
    let from_env = |name: &str, default: u64| match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name} = {value:?} is not a non-negative integer")),
        Err(_) => default,
    };
    let seed = from_env("LEAP_FUZZ_SEED", seed);
    let frames = from_env("LEAP_FUZZ_FRAMES", frames as u64) as usize;
    let started = Instant::now();
    pair.load_state(seed);
    // Sequence numbers wrap from 65,535 to 0 early in the run.
    pair.seq = u16::MAX - 40;
    let mut gen = FrameMutator {
        rng: ChaCha8Rng::seed_from_u64(seed),
        config: pair.config.clone(),
        stream_next: None,
        voltage: false,
    };
    let mut history: Vec<RawFrame> = Vec::new();
    let mut samples_run = 0;
    let mut errors = 0;
    while history.len() < frames {
        let next_seq = pair.seq.wrapping_add(1);
        let choice = gen.rng.gen_range(0..100);
        let mut retry = false;
        let frame = if choice < 12 && !history.is_empty() {
            // A retry of a recent frame, or another payload with its opcode and seq.
            retry = true;
            // Mostly one of the last few frames, but now and then one old enough to have
            // left the eight stored replies.
            let reach = if gen.rng.gen_bool(0.2) { 30 } else { 4 };
            let back = gen.rng.gen_range(1..=history.len().min(reach));
            let mut frame = history[history.len() - back].clone();
            if gen.rng.gen_bool(0.3) {
                gen.damage(&mut frame.payload);
            }
            frame
        } else {
            let (opcode, mut payload, seq) = match choice {
                12..=15 => (IDENTIFY, vec![], next_seq),
                16..=27 => (READ_MEMORY, gen.read_memory(), next_seq),
                28..=41 => (WRITE_MEMORY, gen.write_memory(), next_seq),
                42..=57 => (SET_PARAMETERS, gen.set_parameters(), next_seq),
                58..=69 => (RUN_SAMPLE, gen.run_sample(), next_seq),
                70..=83 => {
                    let (payload, seq) = gen.queue_sample(next_seq);
                    (QUEUE_SAMPLE, payload, seq)
                }
                84..=88 => (READ_COUNTERS, vec![], next_seq),
                89..=94 => (RESET, gen.reset(), next_seq),
                _ => {
                    let opcode = loop {
                        let opcode: u8 = gen.rng.gen();
                        if !(IDENTIFY..=RESET).contains(&opcode) {
                            break opcode;
                        }
                    };
                    let length = gen.rng.gen_range(0..4);
                    (
                        opcode,
                        (0..length).map(|_| gen.rng.gen()).collect(),
                        next_seq,
                    )
                }
            };
            if gen.rng.gen_bool(0.15) {
                gen.damage(&mut payload);
            }
            pair.seq = next_seq;
            RawFrame {
                opcode,
                seq,
                payload,
            }
        };

        let reply = check_replies(&mut pair, identity, &frame, &history);
        let reply_opcode = reply[1];
        if reply_opcode == 0xFF {
            errors += 1;
        }
        if reply_opcode == 0x85 || reply_opcode == 0x86 {
            samples_run += 1;
        }
        match reply_opcode {
            0x81 => gen.stream_next = None,
            0x86 if !retry => gen.stream_next = Some(frame.seq.wrapping_add(1)),
            0x84 => gen.voltage = frame.payload.get(24) == Some(&1),
            _ => {}
        }
        let steps = u32::from_le_bytes(
            frame
                .payload
                .get(12..16)
                .map_or([0; 4], |b| b.try_into().unwrap()),
        );
        history.push(frame);

        // Accepted parameters of more than 16 steps per sample (up to a million) make every
        // later sample slow, so the configuration's parameters follow them.
        if reply_opcode == 0x84 && steps > 16 {
            let frame = pair.frame(SET_PARAMETERS, gen.good_parameters());
            let reply = check_replies(&mut pair, identity, &frame, &history);
            assert_eq!(reply[1], 0x84, "restoring the parameters");
            history.push(frame);
        }
    }
    println!(
        "{} frames, {errors} error replies, {samples_run} sample replies in {:.1} s",
        history.len(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn randomised_requests_match() {
    let board = BoardConfig {
        config: Config::default(),
        engine: Default::default(),
        max_payload: 4096,
    };
    let identity = Reply::Identity(board.identity()).to_frame(0).payload;
    fuzz_requests(Pair::new(), &identity, 43, 400);
}

/// The same on 255-256-2, whose second layer's weights have host addresses above 16 bits.
#[test]
fn randomised_requests_match_wide() {
    let board = wide_board();
    let identity = Reply::Identity(board.identity()).to_frame(0).payload;
    fuzz_requests(
        Pair::for_model("executor_wide", board.config),
        &identity,
        47,
        200,
    );
}

/// Returns the board configuration that the `executor_wide` model was generated for.
fn wide_board() -> BoardConfig {
    let spec = leap_verilator_sys::variant_specs()
        .into_iter()
        .find(|v| v.name == "executor_wide")
        .unwrap();
    let size = spec.size.unwrap();
    BoardConfig {
        config: leap_verilator_sys::network_config(spec.network.unwrap()),
        engine: leap_hdl::engine::EngineParams {
            lanes: spec.lanes,
            max_layers: size.max_layers,
            state_words: size.state_words,
            max_rows: size.max_rows,
            max_columns: size.max_columns,
            max_inputs: size.max_inputs,
            weight_words: size.weight_words,
        },
        max_payload: 4096,
    }
}
