//! Measures the simulated board on Yin-Yang: samples per second of wall-clock time and board
//! clock cycles per sample, for run-sample requests and for queue frames of many samples.
//!
//! `cargo run --release -p leap-cosim --bin board_bench [SAMPLES]`. Bytes go straight into the
//! Verilated `board_bytes` model at one per clock, so the figures leave out the pseudo-terminal
//! and the host. The cycles per sample include receiving the frame and sending the reply.

use std::time::Instant;

use leap_cosim::board::RawFrame;
use leap_cosim::SimulatedBoard;
use leap_model::protocol::{Accept, Decoder, Opcode, INTER_BYTE_TIMEOUT};
use leap_model::Config;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn main() {
    let samples: usize = match std::env::args().nth(1) {
        Some(text) => text.parse().unwrap_or_else(|_| {
            eprintln!("invalid sample count `{text}`: give a positive integer");
            std::process::exit(2)
        }),
        None => 2000,
    };
    let config = Config::default();
    let mut board = SimulatedBoard::new(&config).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut seq = 0u16;
    let mut request = |board: &mut SimulatedBoard, opcode: u8, payload: Vec<u8>| {
        seq = seq.wrapping_add(1);
        let bytes = RawFrame {
            opcode,
            seq,
            payload,
        }
        .encode();
        let reply = board.receive(&bytes, Instant::now());
        check_reply(&reply, opcode);
    };

    // Weights in a realistic range, zero neuron state.
    let limit = 1i32 << (config.fixed.weight_bits - 6);
    let mut write = vec![1, 0];
    write.extend_from_slice(&(config.synapses() as u16).to_le_bytes());
    write.extend_from_slice(&0u32.to_le_bytes());
    for _ in 0..config.synapses() {
        write.extend_from_slice(&rng.gen_range(-limit..limit).to_le_bytes());
    }
    request(&mut board, 0x03, write);
    request(&mut board, 0x08, vec![1]);

    let record = |rng: &mut ChaCha8Rng| -> Vec<u8> {
        let mut bytes = Vec::new();
        for _ in 0..config.n_inputs() {
            bytes.extend_from_slice(&rng.gen_range(0i16..4096).to_le_bytes());
        }
        let class = rng.gen_range(0..config.n_outputs());
        for i in 0..config.n_outputs() {
            let target: i16 = if i == class { 4096 } else { 0 };
            bytes.extend_from_slice(&target.to_le_bytes());
        }
        bytes
    };

    // One run-sample request per sample.
    let (start, cycles) = (Instant::now(), board.cycles());
    for _ in 0..samples {
        let mut payload = vec![1, 0];
        payload.extend_from_slice(&(config.n_inputs() as u16).to_le_bytes());
        payload.extend(record(&mut rng));
        request(&mut board, 0x05, payload);
    }
    report("run sample", samples, start, board.cycles() - cycles);

    // Queue frames of as many samples as fit a 4096-byte payload.
    let per_frame = (4096 - 6) / (2 * (config.n_inputs() + config.n_outputs()));
    let (start, cycles) = (Instant::now(), board.cycles());
    let mut sent = 0;
    let mut first = true;
    while sent < samples {
        let k = per_frame.min(samples - sent);
        let flags = if first { 0x03 } else { 0x01 };
        first = false;
        let mut payload = vec![flags, 0];
        payload.extend_from_slice(&(config.n_inputs() as u16).to_le_bytes());
        payload.extend_from_slice(&(k as u16).to_le_bytes());
        for _ in 0..k {
            payload.extend(record(&mut rng));
        }
        request(&mut board, 0x06, payload);
        sent += k;
    }
    report(
        &format!("queue samples ({per_frame} per frame)"),
        samples,
        start,
        board.cycles() - cycles,
    );
}

/// Panics unless `reply` is one success reply to `opcode`.
fn check_reply(reply: &[u8], opcode: u8) {
    let mut decoder = Decoder::new(Accept::Replies, INTER_BYTE_TIMEOUT);
    let now = Instant::now();
    let mut frames = Vec::new();
    for &byte in reply {
        frames.extend(decoder.push(byte, now));
    }
    assert_eq!(
        frames.len(),
        1,
        "one reply to opcode {opcode:#04x}, got {frames:?}"
    );
    let frame = frames.pop().unwrap().expect("an intact reply");
    assert_ne!(
        frame.opcode,
        Opcode::Error,
        "opcode {opcode:#04x} failed: {:?}",
        frame.payload
    );
}

fn report(request_kind: &str, samples: usize, start: Instant, cycles: u64) {
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{request_kind}: {samples} learning samples in {seconds:.2} s, {:.0} samples/s, {} board clocks per sample, {:.2} M clocks/s",
        samples as f64 / seconds,
        cycles / samples as u64,
        cycles as f64 / seconds / 1e6
    );
}
