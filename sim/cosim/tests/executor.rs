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
    let spec = leap_verilator_sys::variant_specs()
        .into_iter()
        .find(|v| v.name == "executor_wide")
        .unwrap();
    let size = spec.size.unwrap();
    let config = leap_verilator_sys::network_config(spec.network.unwrap());
    let engine = leap_hdl::engine::EngineParams {
        lanes: spec.lanes,
        max_layers: size.max_layers,
        state_words: size.state_words,
        max_rows: size.max_rows,
        max_columns: size.max_columns,
        max_inputs: size.max_inputs,
        weight_words: size.weight_words,
    };
    let board = BoardConfig {
        config: config.clone(),
        engine,
        max_payload: 4096,
    };
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
