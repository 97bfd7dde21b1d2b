//! Tests of frames, the decoder and the software device, including seeded fuzzing.

use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::config::{Activation, Config, ErrorSource, TargetKind};
use crate::device::Device;
use crate::fixed::{initial_rounding_state, FixedModel};
use crate::format::Coefficient;

/// Returns a small network that runs fast: 2 inputs, 3 hidden neurons, 2 outputs, 3 steps per sample.
fn small_config() -> Config {
    let mut config = Config::default();
    config.network.layers = vec![2, 3, 2];
    config.network.activations = vec![Activation::HardSigmoid, Activation::Linear];
    config.learning.eta = vec![0.05, 0.02];
    config.presentation.steps_per_sample = 3;
    config.presentation.settle_steps = 1;
    config.training.seed = 11;
    config
}

fn sample_requests(config: &Config) -> Vec<Request> {
    let parameters = EngineParameters::from_config(config, 0.5).unwrap();
    vec![
        Request::Identify,
        Request::ReadMemory {
            memory: Memory::Weights,
            offset: 3,
            count: 5,
        },
        Request::WriteMemory {
            memory: Memory::Potential,
            offset: 1,
            words: vec![-5, 0, 1 << 20],
        },
        Request::SetParameters(EngineParameters {
            rounding_state: 0xDEAD_BEEF,
            learning: false,
            ..parameters
        }),
        Request::RunSample(Sample {
            start: false,
            input: vec![100, -200],
            target: Some(TargetWords::Activity(vec![4096, 0])),
        }),
        Request::QueueSamples(
            SampleBatch::new(
                true,
                &[Sample {
                    start: false,
                    input: vec![7, 8],
                    target: Some(TargetWords::Potential(vec![-1, 1 << 24])),
                }],
            )
            .unwrap(),
        ),
        Request::QueueSamples(
            SampleBatch::new(
                false,
                &[
                    Sample {
                        start: false,
                        input: vec![7, 8],
                        target: None,
                    },
                    Sample {
                        start: false,
                        input: vec![-9, i16::MAX],
                        target: None,
                    },
                ],
            )
            .unwrap(),
        ),
        Request::ReadCounters,
        Request::Reset {
            flags: reset_flags::NEURON_STATE | reset_flags::COUNTERS,
        },
    ]
}

fn sample_replies(config: &Config) -> Vec<Reply> {
    let counters = Counters {
        cycles: 1,
        steps: 2,
        saturations: crate::fixed::Saturations {
            input: 3,
            potential: 4,
            rate: 5,
            message: 6,
            update: 7,
            weight: 8,
        },
        link: LinkCounters {
            crc: 9,
            framing: 10,
            length: 11,
            timeout: 12,
            unknown_opcode: 13,
        },
        replays: 14,
    };
    vec![
        Reply::Identity(Identity::for_config(config, 4)),
        Reply::MemoryData {
            memory: Memory::Rate,
            offset: 2,
            words: vec![1, -2, 3],
        },
        Reply::MemoryWritten {
            memory: Memory::Rounding,
            offset: 0,
            count: 1,
        },
        Reply::ParametersSet,
        Reply::SampleOutput(SampleOutput {
            saturations: 5,
            rates: vec![1, 2],
        }),
        Reply::SampleResults(SampleOutput {
            saturations: u64::MAX,
            rates: vec![-1, i16::MIN],
        }),
        Reply::Counters(counters),
        Reply::ResetDone,
        Reply::Error(ErrorReply {
            code: ErrorCode::OUT_OF_ORDER,
            opcode: Opcode::QueueSamples as u8,
            detail: 77,
        }),
    ]
}

/// Feeds `bytes` received at `now` and collects every event.
fn decode_all(decoder: &mut Decoder, bytes: &[u8], now: Instant) -> Vec<Result<Frame, FrameError>> {
    let mut events = Vec::new();
    for &byte in bytes {
        events.extend(decoder.push(byte, now));
        while let Some(event) = decoder.poll(now) {
            events.push(event);
        }
    }
    events
}

fn frames_of(events: &[Result<Frame, FrameError>]) -> Vec<Frame> {
    events
        .iter()
        .filter_map(|e| e.as_ref().ok().cloned())
        .collect()
}

#[test]
fn frame_round_trip_every_request() {
    let config = small_config();
    let requests = sample_requests(&config);
    let mut seen: Vec<Opcode> = requests.iter().map(Request::opcode).collect();
    seen.dedup();
    assert_eq!(seen.len(), 8, "every request opcode is covered");

    let mut decoder = Decoder::new(Accept::Requests, INTER_BYTE_TIMEOUT);
    for (seq, request) in requests.iter().enumerate() {
        let frame = request.to_frame(seq as u16 + 1000);
        let events = decode_all(&mut decoder, &frame.encode(), Instant::now());
        assert_eq!(events, vec![Ok(frame.clone())], "{request:?}");
        assert_eq!(&Request::from_frame(&frame).unwrap(), request);
    }
    assert_eq!(decoder.counters(), LinkCounters::default());
}

#[test]
fn frame_round_trip_every_reply() {
    let config = small_config();
    let replies = sample_replies(&config);
    assert_eq!(replies.len(), 9, "every reply opcode is covered");

    let mut decoder = Decoder::new(Accept::Replies, INTER_BYTE_TIMEOUT);
    for (seq, reply) in replies.iter().enumerate() {
        let frame = reply.to_frame(u16::MAX - seq as u16);
        let events = decode_all(&mut decoder, &frame.encode(), Instant::now());
        assert_eq!(events, vec![Ok(frame.clone())], "{reply:?}");
        assert_eq!(&Reply::from_frame(&frame).unwrap(), reply);
    }
}

#[test]
fn frame_layout_matches_spec() {
    let frame = Frame::new(Opcode::ReadCounters, 0x1234, vec![]);
    let bytes = frame.encode();
    assert_eq!(&bytes[..6], &[SYNC, 0x07, 0x34, 0x12, 0x00, 0x00]);
    assert_eq!(
        u32::from_le_bytes(bytes[6..10].try_into().unwrap()),
        crc32(&bytes[1..6])
    );
    assert_eq!(bytes.len(), FRAME_OVERHEAD);
}

#[test]
fn opcode_replies_set_top_bit() {
    for op in Opcode::ALL.into_iter().filter(|op| op.is_request()) {
        let reply = op.reply().unwrap();
        assert_eq!(reply as u8, op as u8 | 0x80);
        assert!(!reply.is_request());
        assert_eq!(Opcode::from_u8(op as u8), Some(op));
    }
    assert_eq!(Opcode::from_u8(0x00), None);
    assert_eq!(Opcode::from_u8(0x7F), None);
}

#[test]
fn decoder_rejects_all_zero_frame() {
    let mut decoder = Decoder::new(Accept::Requests, INTER_BYTE_TIMEOUT);
    // A zero-length frame whose opcode, sequence number, length and CRC are all zero.
    let mut bytes = vec![SYNC];
    bytes.extend_from_slice(&[0u8; FRAME_OVERHEAD - 1]);
    let events = decode_all(&mut decoder, &bytes, Instant::now());
    assert!(
        matches!(events.as_slice(), [Err(FrameError::Crc { .. })]),
        "{events:?}"
    );
    assert_eq!(decoder.counters().crc, 1);

    // Zero bytes without a sync byte are skipped as one run.
    let mut decoder = Decoder::new(Accept::Requests, INTER_BYTE_TIMEOUT);
    let events = decode_all(&mut decoder, &[0u8; 64], Instant::now());
    assert!(events.is_empty());
    assert_eq!(decoder.counters().framing, 1);
}

#[test]
fn decoder_rejects_oversize_length_at_once() {
    let mut decoder = Decoder::new(Accept::Requests, INTER_BYTE_TIMEOUT);
    let length = (MAX_PAYLOAD as u16 + 1).to_le_bytes();
    let header = [SYNC, Opcode::WriteMemory as u8, 1, 0, length[0], length[1]];
    let now = Instant::now();
    for &byte in &header[..5] {
        assert_eq!(decoder.push(byte, now), None);
    }
    assert_eq!(
        decoder.push(header[5], now),
        Some(Err(FrameError::Length {
            length: MAX_PAYLOAD as u16 + 1,
            max: MAX_PAYLOAD as u16
        }))
    );
    assert_eq!(decoder.counters().length, 1);
    assert!(!decoder.in_frame());

    // The largest allowed length is accepted.
    let frame = Frame::new(Opcode::WriteMemory, 2, vec![0x5A; MAX_PAYLOAD]);
    assert_eq!(
        decode_all(&mut decoder, &frame.encode(), now),
        vec![Ok(frame)]
    );
}

#[test]
fn decoder_cuts_stalled_frame() {
    let mut decoder = Decoder::new(Accept::Requests, INTER_BYTE_TIMEOUT);
    let start = Instant::now();
    let cut = Request::ReadCounters.to_frame(5).encode();
    assert!(decode_all(&mut decoder, &cut[..7], start).is_empty());
    assert!(decoder.in_frame());
    assert_eq!(
        decoder.poll(start + INTER_BYTE_TIMEOUT),
        None,
        "the timeout is not yet exceeded"
    );

    let later = start + INTER_BYTE_TIMEOUT + Duration::from_millis(1);
    let frame = Request::Identify.to_frame(6);
    let events = decode_all(&mut decoder, &frame.encode(), later);
    assert_eq!(
        events,
        vec![
            Err(FrameError::Timeout {
                received: 7,
                expected: Some(10)
            }),
            Ok(frame)
        ]
    );
    assert_eq!(decoder.counters().timeout, 1);
}

#[test]
fn decoder_finds_frame_after_false_sync() {
    let mut decoder = Decoder::new(Accept::Requests, INTER_BYTE_TIMEOUT);
    // A false sync byte whose length field (8) covers part of the real frame that follows.
    let mut bytes = vec![0x11, SYNC, 0x01, 0x00, 0x00, 0x08, 0x00];
    let frame = Request::ReadMemory {
        memory: Memory::Weights,
        offset: 0,
        count: 4,
    }
    .to_frame(9);
    bytes.extend(frame.encode());
    let events = decode_all(&mut decoder, &bytes, Instant::now());
    assert_eq!(frames_of(&events), vec![frame]);
    assert_eq!(decoder.counters().crc, 1);
    assert_eq!(decoder.counters().framing, 1);
}

#[test]
fn decoder_finds_frame_after_long_false_length() {
    // A false sync byte whose length covers more than the rest of the stream: the frame after
    // it is found once the inter-byte timeout cuts the false candidate.
    let mut decoder = Decoder::new(Accept::Requests, INTER_BYTE_TIMEOUT);
    let mut bytes = vec![SYNC, 0x01, 0x00, 0x00, 0x00, 0x04];
    let frame = Request::Identify.to_frame(3);
    bytes.extend(frame.encode());
    let now = Instant::now();
    assert!(frames_of(&decode_all(&mut decoder, &bytes, now)).is_empty());
    let later = now + INTER_BYTE_TIMEOUT * 2;
    let events: Vec<_> = std::iter::from_fn(|| decoder.poll(later)).collect();
    assert_eq!(frames_of(&events), vec![frame]);
    assert_eq!(decoder.counters().timeout, 1);
}

#[test]
fn decoder_reports_unknown_opcode() {
    let mut decoder = Decoder::new(Accept::Requests, INTER_BYTE_TIMEOUT);
    let mut bytes = vec![SYNC, 0x42, 0x10, 0x00, 0x00, 0x00];
    let crc = crc32(&bytes[1..]);
    bytes.extend_from_slice(&crc.to_le_bytes());
    let events = decode_all(&mut decoder, &bytes, Instant::now());
    assert_eq!(
        events,
        vec![Err(FrameError::UnknownOpcode {
            opcode: 0x42,
            seq: 0x10
        })]
    );

    // A reply opcode is unknown to a decoder that accepts requests.
    let reply = Reply::ResetDone.to_frame(4);
    let events = decode_all(&mut decoder, &reply.encode(), Instant::now());
    assert_eq!(
        events,
        vec![Err(FrameError::UnknownOpcode {
            opcode: Opcode::ResetDone as u8,
            seq: 4
        })]
    );
    assert_eq!(decoder.counters().unknown_opcode, 2);
}

#[test]
fn generator_hash_depends_on_network() {
    let config = small_config();
    let base = generator_hash(&config, 4);
    assert_eq!(base, generator_hash(&config.clone(), 4));
    assert_ne!(base, generator_hash(&config, 8));
    let mut wider = config.clone();
    wider.network.layers[1] = 4;
    assert_ne!(base, generator_hash(&wider, 4));
    let mut formats = config.clone();
    formats.fixed.act_frac = 11;
    assert_ne!(base, generator_hash(&formats, 4));
    // Parameters that the host loads at run time do not change the hash.
    let mut eta = config;
    eta.learning.eta = vec![0.1, 0.1];
    assert_eq!(base, generator_hash(&eta, 4));
}

/// Sends one request to the device and decodes its reply.
fn request(device: &mut SoftwareDevice, request: &Request, seq: u16) -> Reply {
    let reply = device.handle(&request.to_frame(seq));
    assert_eq!(reply.seq, seq);
    Reply::from_frame(&reply).unwrap()
}

fn error_code(reply: &Reply) -> Option<ErrorCode> {
    match reply {
        Reply::Error(error) => Some(error.code),
        _ => None,
    }
}

/// Converts a real sample as `FixedModel::quantise_input` and `quantise_target` do.
fn quantise(config: &Config, x: &[f64], y: &[f64]) -> Sample {
    let act = config.fixed.act();
    let mut saturations = 0;
    Sample {
        start: false,
        input: x
            .iter()
            .map(|&v| act.from_f64(v, &mut saturations) as i16)
            .collect(),
        target: Some(TargetWords::Activity(
            y.iter()
                .map(|&v| act.from_f64(v, &mut saturations) as i16)
                .collect(),
        )),
    }
}

#[test]
fn software_device_matches_fixed_model() {
    let config = small_config();
    let mut device = SoftwareDevice::new(&config).unwrap();
    let mut model = FixedModel::new(&config).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut seq = 0u16;

    for epoch in 0..3 {
        let factor = 1.0 - 0.3 * epoch as f64;
        model.set_learning_rate_factor(factor).unwrap();
        seq += 1;
        let parameters = EngineParameters::from_config(&config, factor).unwrap();
        assert_eq!(
            request(&mut device, &Request::SetParameters(parameters), seq),
            Reply::ParametersSet
        );

        for _ in 0..20 {
            let x: Vec<f64> = (0..2).map(|_| rng.gen_range(-0.2..1.2)).collect();
            let y: Vec<f64> = (0..2).map(|_| rng.gen_range(0.0..1.0)).collect();
            let expected = model.run_batch(&[&x], Some(&[&y])).unwrap();
            seq += 1;
            let Reply::SampleOutput(output) = request(
                &mut device,
                &Request::RunSample(quantise(&config, &x, &y)),
                seq,
            ) else {
                panic!("run sample failed")
            };
            let act = config.fixed.act();
            let rates: Vec<f64> = output.rates.iter().map(|&r| act.to_f64(r as i64)).collect();
            assert_eq!(rates, expected[0]);
            assert_eq!(output.saturations, model.saturations());
        }
    }
    let device_state = device.model().state();
    let model_state = model.state();
    assert_eq!(device_state.weights, model_state.weights);
    assert_eq!(device_state.u, model_state.u);
    assert_eq!(device_state.rounding_state, model_state.rounding_state);
    assert_eq!(device_state.steps, model_state.steps);
}

#[test]
fn software_device_memory_round_trip() {
    let config = small_config();
    let mut device = SoftwareDevice::new(&config).unwrap();
    let size = config.synapses() as u32;
    let words: Vec<i32> = (0..size as i32).map(|i| i * 1000 - 7000).collect();
    let written = request(
        &mut device,
        &Request::WriteMemory {
            memory: Memory::Weights,
            offset: 0,
            words: words.clone(),
        },
        1,
    );
    assert_eq!(
        written,
        Reply::MemoryWritten {
            memory: Memory::Weights,
            offset: 0,
            count: size as u16
        }
    );
    let read = request(
        &mut device,
        &Request::ReadMemory {
            memory: Memory::Weights,
            offset: 4,
            count: 6,
        },
        2,
    );
    assert_eq!(
        read,
        Reply::MemoryData {
            memory: Memory::Weights,
            offset: 4,
            words: words[4..10].to_vec()
        }
    );

    // The second layer starts after the first layer's 3 rows of 3 words.
    assert_eq!(device.model().weight_words(1)[0], words[9]);

    let rounding = request(
        &mut device,
        &Request::WriteMemory {
            memory: Memory::Rounding,
            offset: 0,
            words: vec![-3],
        },
        3,
    );
    assert!(matches!(rounding, Reply::MemoryWritten { .. }));
    assert_eq!(device.model().rounding_state(), (-3i32) as u32);
    let read = request(
        &mut device,
        &Request::ReadMemory {
            memory: Memory::Rounding,
            offset: 0,
            count: 1,
        },
        4,
    );
    assert_eq!(
        read,
        Reply::MemoryData {
            memory: Memory::Rounding,
            offset: 0,
            words: vec![-3]
        }
    );
}

#[test]
fn software_device_error_replies() {
    let config = small_config();
    let mut device = SoftwareDevice::new(&config).unwrap();
    let pot = config.fixed.pot();
    let neurons = 5;
    let cases: Vec<(Request, ErrorCode, u32)> = vec![
        (
            Request::ReadMemory {
                memory: Memory::Rate,
                offset: 4,
                count: 2,
            },
            ErrorCode::ADDRESS_RANGE,
            neurons,
        ),
        (
            Request::ReadMemory {
                memory: Memory::Weights,
                offset: 0,
                count: MAX_WORDS_PER_FRAME as u16 + 1,
            },
            ErrorCode::ADDRESS_RANGE,
            17,
        ),
        (
            Request::WriteMemory {
                memory: Memory::Potential,
                offset: 0,
                words: vec![0, pot.max() as i32 + 1],
            },
            ErrorCode::WORD_RANGE,
            1,
        ),
        (
            Request::WriteMemory {
                memory: Memory::Rate,
                offset: 0,
                words: vec![1 << 15],
            },
            ErrorCode::WORD_RANGE,
            0,
        ),
        (
            Request::WriteMemory {
                memory: Memory::Rounding,
                offset: 0,
                words: vec![0],
            },
            ErrorCode::WORD_RANGE,
            0,
        ),
        (
            Request::RunSample(Sample {
                start: false,
                input: vec![1, 2, 3],
                target: None,
            }),
            ErrorCode::SAMPLE_SHAPE,
            2,
        ),
        (
            Request::RunSample(Sample {
                start: false,
                input: vec![1, 2],
                target: Some(TargetWords::Activity(vec![1])),
            }),
            ErrorCode::SAMPLE_SHAPE,
            2,
        ),
        (
            Request::RunSample(Sample {
                start: false,
                input: vec![1, 2],
                target: Some(TargetWords::Potential(vec![1, 2])),
            }),
            ErrorCode::INVALID_FLAGS,
            (sample_flags::LEARN | sample_flags::POTENTIAL_TARGET) as u32,
        ),
        (
            Request::QueueSamples(
                SampleBatch::new(
                    false,
                    &[Sample {
                        start: false,
                        input: vec![1, 2],
                        target: None,
                    }],
                )
                .unwrap(),
            ),
            ErrorCode::OUT_OF_ORDER,
            u32::MAX,
        ),
    ];
    for (seq, (req, code, detail)) in cases.into_iter().enumerate() {
        let reply = request(&mut device, &req, seq as u16);
        let expected = ErrorReply {
            code,
            opcode: req.opcode() as u8,
            detail,
        };
        assert_eq!(reply, Reply::Error(expected), "{req:?}");
    }

    let base = EngineParameters::from_config(&config, 1.0).unwrap();
    let parameter_cases = [
        (
            EngineParameters {
                k_dt: Coefficient { mant: 3, shift: 1 },
                ..base.clone()
            },
            EngineParameters::FIELD_K_DT,
        ),
        (
            EngineParameters {
                beta: Coefficient { mant: 1, shift: 47 },
                ..base.clone()
            },
            EngineParameters::FIELD_BETA,
        ),
        (
            EngineParameters {
                steps_per_sample: 0,
                settle_steps: 0,
                ..base.clone()
            },
            EngineParameters::FIELD_STEPS,
        ),
        (
            EngineParameters {
                settle_steps: 3,
                ..base.clone()
            },
            EngineParameters::FIELD_SETTLE,
        ),
        (
            EngineParameters {
                eta: vec![Coefficient::ZERO, Coefficient { mant: -1, shift: 3 }],
                ..base.clone()
            },
            EngineParameters::FIELD_ETA + 1,
        ),
    ];
    for (parameters, field) in parameter_cases {
        let reply = request(&mut device, &Request::SetParameters(parameters), 100);
        assert_eq!(error_code(&reply), Some(ErrorCode::INVALID_PARAMETER));
        assert!(
            matches!(reply, Reply::Error(ErrorReply { detail, .. }) if detail == field),
            "field {field}: {reply:?}"
        );
    }

    // A frame with a reply opcode or a malformed payload also gets a coded error.
    let reply =
        Reply::from_frame(&device.handle(&Frame::new(Opcode::Counters, 7, vec![]))).unwrap();
    assert_eq!(error_code(&reply), Some(ErrorCode::UNKNOWN_OPCODE));
    let reply =
        Reply::from_frame(&device.handle(&Frame::new(Opcode::ReadMemory, 8, vec![1, 0, 1])))
            .unwrap();
    assert_eq!(
        reply,
        Reply::Error(ErrorReply {
            code: ErrorCode::PAYLOAD_LENGTH,
            opcode: Opcode::ReadMemory as u8,
            detail: 8
        })
    );
    let reply = Reply::from_frame(&device.handle(&Frame::new(
        Opcode::ReadMemory,
        9,
        vec![9, 0, 1, 0, 0, 0, 0, 0],
    )))
    .unwrap();
    assert_eq!(error_code(&reply), Some(ErrorCode::UNKNOWN_MEMORY));

    // Nothing above changed the state: no time step ran.
    assert_eq!(device.counters().steps, 0);
}

#[test]
fn software_device_replays_retried_request() {
    let config = small_config();
    let mut device = SoftwareDevice::new(&config).unwrap();
    let sample = Sample {
        start: false,
        input: vec![2048, 1024],
        target: Some(TargetWords::Activity(vec![4096, 0])),
    };
    let first = device.handle(&Request::RunSample(sample.clone()).to_frame(40));
    let weights = device.model().weight_words(0).to_vec();
    let retry = device.handle(&Request::RunSample(sample.clone()).to_frame(40));
    assert_eq!(first, retry);
    assert_eq!(
        device.model().weight_words(0),
        weights.as_slice(),
        "a retry must not learn again"
    );
    assert_eq!(device.counters().steps, 3);
    assert_eq!(device.counters().replays, 1);

    // A new sequence number runs the sample again.
    device.handle(&Request::RunSample(sample).to_frame(41));
    assert_eq!(device.counters().steps, 6);

    // Identify starts a new session, so the device drops its stored replies.
    device.handle(&Request::Identify.to_frame(0));
    let again = device.handle(
        &Request::RunSample(Sample {
            start: false,
            input: vec![0, 0],
            target: None,
        })
        .to_frame(40),
    );
    assert_ne!(again, first);
    assert_eq!(device.counters().steps, 9);
}

/// Builds a queue-samples request of `count` copies of a rate-target sample of the small network.
fn queued(start: bool, count: usize) -> Request {
    let sample = Sample {
        start: false,
        input: vec![1000, 2000],
        target: Some(TargetWords::Activity(vec![4096, 0])),
    };
    Request::QueueSamples(SampleBatch::new(start, &vec![sample; count]).unwrap())
}

#[test]
fn software_device_streams_in_order() {
    let config = small_config();
    let mut device = SoftwareDevice::new(&config).unwrap();
    let result = |reply: Frame| (reply.opcode, reply.seq, reply.payload.len());

    // Sequence numbers count frames: a frame of 3 samples and one of 2 take 500 and 501.
    assert_eq!(
        result(device.handle(&queued(true, 3).to_frame(500))),
        (Opcode::SampleResults, 500, 8 + 3 * 2 * 2)
    );
    // Frame 501 was lost: 502 is refused, names 501 and runs nothing.
    let refused = Reply::from_frame(&device.handle(&queued(false, 2).to_frame(502))).unwrap();
    assert_eq!(
        refused,
        Reply::Error(ErrorReply {
            code: ErrorCode::OUT_OF_ORDER,
            opcode: Opcode::QueueSamples as u8,
            detail: 501
        })
    );
    assert_eq!(device.counters().steps, 9);
    assert_eq!(
        result(device.handle(&queued(false, 2).to_frame(501))),
        (Opcode::SampleResults, 501, 8 + 2 * 2 * 2)
    );
    assert_eq!(
        result(device.handle(&queued(false, 1).to_frame(502))),
        (Opcode::SampleResults, 502, 8 + 2 * 2)
    );
    // A resent frame whose reply was lost gets the stored reply and runs nothing again.
    let stored = device.handle(&queued(false, 2).to_frame(501));
    assert_eq!(result(stored), (Opcode::SampleResults, 501, 8 + 2 * 2 * 2));
    assert_eq!(device.counters().steps, 6 * 3);
    assert_eq!(device.counters().replays, 1);
    // A new start flag opens a new stream at any sequence number.
    assert_eq!(
        result(device.handle(&queued(true, 1).to_frame(7))),
        (Opcode::SampleResults, 7, 8 + 2 * 2)
    );
}

#[test]
fn queued_samples_match_run_sample() {
    // k samples in one frame give the rates and the state of k run-sample requests.
    let config = small_config();
    let mut queued_device = SoftwareDevice::new(&config).unwrap();
    let mut single_device = SoftwareDevice::new(&config).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let samples: Vec<Sample> = (0..7)
        .map(|_| {
            let x: Vec<f64> = (0..2).map(|_| rng.gen_range(-0.2..1.2)).collect();
            let y: Vec<f64> = (0..2).map(|_| rng.gen_range(0.0..1.0)).collect();
            quantise(&config, &x, &y)
        })
        .collect();

    let mut expected_rates = Vec::new();
    let mut expected_saturations = 0;
    for (seq, sample) in samples.iter().enumerate() {
        let Reply::SampleOutput(output) = request(
            &mut single_device,
            &Request::RunSample(sample.clone()),
            seq as u16,
        ) else {
            panic!("run sample failed")
        };
        expected_rates.extend(output.rates);
        expected_saturations = output.saturations;
    }

    let first = SampleBatch::new(true, &samples[..4]).unwrap();
    let second = SampleBatch::new(false, &samples[4..]).unwrap();
    let Reply::SampleResults(a) = request(&mut queued_device, &Request::QueueSamples(first), 30)
    else {
        panic!("first frame failed")
    };
    let Reply::SampleResults(b) = request(&mut queued_device, &Request::QueueSamples(second), 31)
    else {
        panic!("second frame failed")
    };
    assert_eq!(a.rates.len(), 4 * 2);
    assert_eq!(b.rates.len(), 3 * 2);
    let rates: Vec<i16> = a.rates.iter().chain(&b.rates).copied().collect();
    assert_eq!(rates, expected_rates);
    assert_eq!(b.saturations, expected_saturations);
    assert_eq!(queued_device.model().state(), single_device.model().state());
}

#[test]
fn queued_samples_largest_frame() {
    // The largest k whose request and reply fit the maximum payload is accepted. One more is
    // rejected with the longest valid length as the detail, and runs nothing.
    let config = small_config();
    let mut device = SoftwareDevice::new(&config).unwrap();
    let record = record_len(sample_flags::LEARN, 2, 2);
    assert_eq!(record, 8);
    let k_max = SampleBatch::max_count(MAX_PAYLOAD, record, 2);
    assert_eq!(k_max, (MAX_PAYLOAD - 6) / 8);

    let frame = queued(true, k_max).to_frame(1);
    assert_eq!(frame.payload.len(), 6 + k_max * record);
    let reply = device.handle(&frame);
    assert_eq!(reply.opcode, Opcode::SampleResults);
    assert_eq!(reply.payload.len(), 8 + k_max * 2 * 2);
    assert_eq!(device.counters().steps, 3 * k_max as u64);

    // One more sample does not fit MAX_PAYLOAD; a device advertising less rejects it by length.
    device.set_max_payload(1024).unwrap();
    let k_small = SampleBatch::max_count(1024, record, 2);
    let reply = Reply::from_frame(&device.handle(&queued(false, k_small + 1).to_frame(2))).unwrap();
    assert_eq!(
        reply,
        Reply::Error(ErrorReply {
            code: ErrorCode::PAYLOAD_LENGTH,
            opcode: Opcode::QueueSamples as u8,
            detail: 1024
        })
    );
    let reply = device.handle(&queued(false, k_small).to_frame(2));
    assert_eq!(reply.opcode, Opcode::SampleResults);
    assert_eq!(device.counters().steps, 3 * (k_max + k_small) as u64);
}

#[test]
fn queued_samples_reply_limit() {
    // Without targets a record of 2 inputs is 4 bytes but its reply is 2 × outputs bytes, so a
    // network with more outputs than inputs is limited by the reply.
    let mut config = small_config();
    config.network.layers = vec![2, 3, 6];
    let mut device = SoftwareDevice::new(&config).unwrap();
    device.set_max_payload(256).unwrap();
    let record = record_len(0, 2, 6);
    let k_max = SampleBatch::max_count(256, record, 6);
    assert_eq!(k_max, (256 - 8) / 12);
    let sample = Sample {
        start: false,
        input: vec![1, 2],
        target: None,
    };
    let batch =
        |k| Request::QueueSamples(SampleBatch::new(true, &vec![sample.clone(); k]).unwrap());
    let reply = Reply::from_frame(&device.handle(&batch(k_max + 1).to_frame(3))).unwrap();
    assert_eq!(
        reply,
        Reply::Error(ErrorReply {
            code: ErrorCode::PAYLOAD_LENGTH,
            opcode: Opcode::QueueSamples as u8,
            detail: (6 + k_max * record) as u32
        })
    );
    let reply = Reply::from_frame(&device.handle(&batch(k_max).to_frame(4))).unwrap();
    let Reply::SampleResults(output) = reply else {
        panic!("{reply:?}")
    };
    assert_eq!(output.rates.len(), k_max * 6);
}

#[test]
fn queued_samples_malformed_payloads() {
    let config = small_config();
    let pot = config.fixed.pot();
    let header = |flags: u8, n: u16, k: u16| {
        let mut payload = vec![flags, 0];
        payload.extend_from_slice(&n.to_le_bytes());
        payload.extend_from_slice(&k.to_le_bytes());
        payload
    };
    let with_records = |mut payload: Vec<u8>, words: &[i16]| {
        words
            .iter()
            .for_each(|w| payload.extend_from_slice(&w.to_le_bytes()));
        payload
    };
    let learn = sample_flags::LEARN | sample_flags::START;
    let potential = learn | sample_flags::POTENTIAL_TARGET;
    // Two potential-target records: inputs (i16) 1, 2 and targets (i32) 0, 0, then inputs 3, 4
    // and targets 0 and one word above the potential format's maximum.
    let mut potential_out_of_range = header(potential, 2, 2);
    for (inputs, targets) in [([1i16, 2], [0i32, 0]), ([3, 4], [0, pot.max() as i32 + 1])] {
        inputs
            .iter()
            .for_each(|w| potential_out_of_range.extend_from_slice(&w.to_le_bytes()));
        targets
            .iter()
            .for_each(|w| potential_out_of_range.extend_from_slice(&w.to_le_bytes()));
    }
    let cases: Vec<(&str, Vec<u8>, ErrorCode, u32)> = vec![
        (
            "short header",
            vec![learn, 0, 2, 0, 1],
            ErrorCode::PAYLOAD_LENGTH,
            6,
        ),
        (
            "undefined flag",
            header(0x08 | sample_flags::START, 2, 1),
            ErrorCode::INVALID_FLAGS,
            0x0A,
        ),
        (
            "potential without learn",
            header(sample_flags::POTENTIAL_TARGET, 2, 1),
            ErrorCode::INVALID_FLAGS,
            0x04,
        ),
        (
            "wrong input count",
            with_records(header(learn, 3, 1), &[1, 2, 3, 4, 5]),
            ErrorCode::SAMPLE_SHAPE,
            2,
        ),
        (
            "zero samples",
            header(learn, 2, 0),
            ErrorCode::PAYLOAD_LENGTH,
            6 + 8,
        ),
        (
            "one record short",
            with_records(header(learn, 2, 2), &[1, 2, 3, 4]),
            ErrorCode::PAYLOAD_LENGTH,
            6 + 2 * 8,
        ),
        (
            "one byte long",
            {
                let mut p = with_records(header(learn, 2, 1), &[1, 2, 3, 4]);
                p.push(0);
                p
            },
            ErrorCode::PAYLOAD_LENGTH,
            6 + 8,
        ),
        (
            "targets without learn",
            with_records(header(sample_flags::START, 2, 1), &[1, 2, 3, 4]),
            ErrorCode::PAYLOAD_LENGTH,
            6 + 4,
        ),
        (
            "potential record length",
            with_records(header(potential, 2, 1), &[1, 2, 3, 4]),
            ErrorCode::PAYLOAD_LENGTH,
            6 + 12,
        ),
        (
            "potential target kind",
            with_records(header(potential, 2, 1), &[1, 2, 0, 0, 0, 0]),
            ErrorCode::INVALID_FLAGS,
            potential as u32 & !(sample_flags::START as u32),
        ),
    ];
    for (name, payload, code, detail) in cases {
        let mut device = SoftwareDevice::new(&config).unwrap();
        let reply =
            Reply::from_frame(&device.handle(&Frame::new(Opcode::QueueSamples, 9, payload)))
                .unwrap();
        assert_eq!(
            reply,
            Reply::Error(ErrorReply {
                code,
                opcode: Opcode::QueueSamples as u8,
                detail
            }),
            "{name}"
        );
        assert_eq!(
            device.counters().steps,
            0,
            "{name}: a rejected frame runs nothing"
        );
    }

    // A potential word outside its format in the second sample names its index among the
    // frame's words (2 inputs and 2 targets per sample), and the first sample does not run.
    let mut device = SoftwareDevice::new(&config).unwrap();
    let parameters = EngineParameters {
        target: TargetKind::Voltage,
        ..EngineParameters::from_config(&config, 1.0).unwrap()
    };
    assert_eq!(
        request(&mut device, &Request::SetParameters(parameters), 1),
        Reply::ParametersSet
    );
    let reply = Reply::from_frame(&device.handle(&Frame::new(
        Opcode::QueueSamples,
        2,
        potential_out_of_range,
    )))
    .unwrap();
    assert_eq!(
        reply,
        Reply::Error(ErrorReply {
            code: ErrorCode::WORD_RANGE,
            opcode: Opcode::QueueSamples as u8,
            detail: 4 + 3
        })
    );
    assert_eq!(device.counters().steps, 0);
}

#[test]
fn sample_batch_rejects_mixed_samples() {
    let rate = Sample {
        start: false,
        input: vec![1, 2],
        target: Some(TargetWords::Activity(vec![3, 4])),
    };
    let frozen = Sample {
        target: None,
        ..rate.clone()
    };
    let wide = Sample {
        input: vec![1, 2, 3],
        ..rate.clone()
    };
    assert!(SampleBatch::new(true, &[]).is_err());
    assert!(SampleBatch::new(true, &[rate.clone(), frozen]).is_err());
    assert!(SampleBatch::new(true, &[rate.clone(), wide]).is_err());
    let batch = SampleBatch::new(true, &[rate.clone(), rate]).unwrap();
    assert!(batch.start());
    assert_eq!(batch.count(), 2);
    assert_eq!(batch.payload_len(), 6 + 2 * 8);
}

#[test]
fn software_device_small_max_payload() {
    // 2-10-2 has 3 × 10 + 11 × 2 = 52 weight words, more than one 128-byte frame carries.
    let mut config = small_config();
    config.network.layers = vec![2, 10, 2];
    let mut device = SoftwareDevice::new(&config).unwrap();
    assert!(device.set_max_payload(MIN_MAX_PAYLOAD - 1).is_err());
    assert!(device.set_max_payload(MAX_PAYLOAD + 1).is_err());
    device.set_max_payload(128).unwrap();
    let Reply::Identity(identity) = request(&mut device, &Request::Identify, 1) else {
        panic!("identify failed")
    };
    assert_eq!(identity.max_payload, 128);
    assert!(matches!(
        request(&mut device, &Request::ReadCounters, 2),
        Reply::Counters(_)
    ));

    // A read whose reply would exceed 128 bytes is out of range; (128 - 8) / 4 = 30 words fit.
    let reply = request(
        &mut device,
        &Request::ReadMemory {
            memory: Memory::Weights,
            offset: 0,
            count: 31,
        },
        3,
    );
    assert_eq!(
        reply,
        Reply::Error(ErrorReply {
            code: ErrorCode::ADDRESS_RANGE,
            opcode: Opcode::ReadMemory as u8,
            detail: 52
        })
    );
    let reply = request(
        &mut device,
        &Request::ReadMemory {
            memory: Memory::Weights,
            offset: 0,
            count: 30,
        },
        4,
    );
    assert!(matches!(reply, Reply::MemoryData { ref words, .. } if words.len() == 30));

    // A longer intact frame gets a length error naming the maximum. On the wire its length
    // field is rejected as soon as the header is complete and counted, and the frame gets no reply.
    let write = Request::WriteMemory {
        memory: Memory::Weights,
        offset: 0,
        words: vec![0; 31],
    };
    let reply = request(&mut device, &write, 5);
    assert_eq!(
        reply,
        Reply::Error(ErrorReply {
            code: ErrorCode::PAYLOAD_LENGTH,
            opcode: Opcode::WriteMemory as u8,
            detail: 128
        })
    );
    let replies = device.receive(&write.to_frame(6).encode(), Instant::now());
    assert!(replies.is_empty());
    assert_eq!(device.counters().link.length, 1);
}

#[test]
fn software_device_reset_clears_state() {
    let config = small_config();
    let mut device = SoftwareDevice::new(&config).unwrap();
    let sample = Sample {
        start: false,
        input: vec![4096, 4096],
        target: Some(TargetWords::Activity(vec![4096, 0])),
    };
    request(&mut device, &Request::RunSample(sample), 1);
    assert!(device.model().u_words(0).iter().any(|&u| u != 0));
    let weights = device.model().weight_words(0).to_vec();

    assert_eq!(
        request(
            &mut device,
            &Request::Reset {
                flags: reset_flags::NEURON_STATE
            },
            2
        ),
        Reply::ResetDone
    );
    assert!(device.model().u_words(0).iter().all(|&u| u == 0));
    assert!(device.model().rate_words(1).iter().all(|&r| r == 0));
    assert_eq!(device.model().weight_words(0), weights.as_slice());
    assert_eq!(device.counters().steps, 3);

    assert_eq!(
        request(
            &mut device,
            &Request::Reset {
                flags: reset_flags::COUNTERS
            },
            3
        ),
        Reply::ResetDone
    );
    assert_eq!(device.counters(), Counters::default());
    let Reply::Error(error) = request(&mut device, &Request::Reset { flags: 0x80 }, 4) else {
        panic!("reset with flag 0x80 succeeded")
    };
    assert_eq!(error.code, ErrorCode::INVALID_FLAGS);
}

#[test]
fn software_device_identity() {
    let config = small_config();
    let mut device = SoftwareDevice::new(&config).unwrap();
    let Reply::Identity(identity) = request(&mut device, &Request::Identify, 0) else {
        panic!("identify failed")
    };
    assert_eq!(identity.protocol_version, PROTOCOL_VERSION);
    assert_eq!(identity.layers, vec![2, 3, 2]);
    assert_eq!(identity.weight_words, 17);
    assert_eq!(identity.neuron_words, 5);
    assert_eq!(identity.queue_depth, QUEUE_DEPTH);
    assert_eq!(identity.lanes, SOFTWARE_LANES);
    assert!(identity.check_config(&config).is_ok());
    let mut other = config.clone();
    other.network.activations[1] = Activation::Relu;
    let message = identity.check_config(&other).unwrap_err();
    assert!(message.contains("relu"), "{message}");
}

/// Every disagreement between a device and a configuration names the configuration key, both
/// values in the configuration's own spelling, and what to do.
#[test]
fn identity_mismatch_names_key_values_and_remedy() {
    let config = small_config();
    let mut device = SoftwareDevice::new(&config).unwrap();
    let Reply::Identity(identity) = request(&mut device, &Request::Identify, 0) else {
        panic!("identify failed")
    };
    let check = |edit: &dyn Fn(&mut Config)| {
        let mut other = config.clone();
        edit(&mut other);
        let message = identity.check_config(&other).unwrap_err();
        assert!(message.contains("leap info"), "no remedy in: {message}");
        message
    };

    let message = check(&|c| c.network.layers = vec![2, 4, 2]);
    assert!(
        message.contains("runs network 2-3-2, but network.layers of the configuration is 2-4-2"),
        "{message}"
    );

    let weight_frac = config.fixed.weight_frac;
    let message = check(&|c| c.fixed.weight_frac = weight_frac - 1);
    assert!(
        message.contains(&format!(
            "built with fixed.weight_frac = {weight_frac}, but the configuration sets fixed.weight_frac = {}",
            weight_frac - 1
        )),
        "{message}"
    );
    assert!(!message.contains("Formats {"), "{message}");

    let other_source = match config.neuron.error_source {
        ErrorSource::TauM => ErrorSource::TauR,
        ErrorSource::TauR => ErrorSource::TauM,
    };
    let message = check(&|c| c.neuron.error_source = other_source);
    assert!(message.contains("neuron.error_source = \""), "{message}");
    assert!(
        message.contains("\"tau_m\"") && message.contains("\"tau_r\""),
        "{message}"
    );
}

#[test]
fn software_device_voltage_target() {
    let mut config = small_config();
    config.learning.target = TargetKind::Voltage;
    let mut device = SoftwareDevice::new(&config).unwrap();
    let mut model = FixedModel::new(&config).unwrap();
    let (x, y) = ([0.3, 0.9], [0.25, -0.5]);
    let expected = model.run_batch(&[&x], Some(&[&y])).unwrap();
    let act = config.fixed.act();
    let pot = config.fixed.pot();
    let mut saturations = 0;
    let sample = Sample {
        start: false,
        input: x
            .iter()
            .map(|&v| act.from_f64(v, &mut saturations) as i16)
            .collect(),
        target: Some(TargetWords::Potential(
            y.iter()
                .map(|&v| pot.from_f64(v, &mut saturations) as i32)
                .collect(),
        )),
    };
    let Reply::SampleOutput(output) = request(&mut device, &Request::RunSample(sample), 1) else {
        panic!("run sample failed")
    };
    let rates: Vec<f64> = output.rates.iter().map(|&r| act.to_f64(r as i64)).collect();
    assert_eq!(rates, expected[0]);
    assert_eq!(device.model().weight_words(1), model.weight_words(1));
}

#[test]
fn software_device_learning_off_freezes_weights() {
    let config = small_config();
    let mut device = SoftwareDevice::new(&config).unwrap();
    let parameters = EngineParameters {
        learning: false,
        rounding_state: initial_rounding_state(99),
        ..EngineParameters::from_config(&config, 1.0).unwrap()
    };
    request(&mut device, &Request::SetParameters(parameters), 1);
    assert_eq!(device.model().rounding_state(), initial_rounding_state(99));
    let weights = device.model().weight_words(0).to_vec();
    let sample = Sample {
        start: false,
        input: vec![4096, 0],
        target: Some(TargetWords::Activity(vec![4096, 0])),
    };
    request(&mut device, &Request::RunSample(sample), 2);
    assert_eq!(device.model().weight_words(0), weights.as_slice());
}

// ---------------------------------------------------------------------------------------------
// Seeded fuzzing

/// The kinds of damaged input the fuzzer mixes into a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Damage {
    Garbage,
    CutFrame,
    BadCrc,
    OversizeLength,
    UnknownOpcode,
}

const DAMAGES: [Damage; 5] = [
    Damage::Garbage,
    Damage::CutFrame,
    Damage::BadCrc,
    Damage::OversizeLength,
    Damage::UnknownOpcode,
];

/// Returns a valid request that is cheap to execute on the small network.
fn random_request(rng: &mut ChaCha8Rng) -> Request {
    match rng.gen_range(0..6) {
        0 => Request::Identify,
        1 => Request::ReadCounters,
        2 => Request::ReadMemory {
            memory: Memory::Weights,
            offset: rng.gen_range(0..10),
            count: rng.gen_range(0..8),
        },
        3 => Request::WriteMemory {
            memory: Memory::Potential,
            offset: rng.gen_range(0..3),
            words: vec![rng.gen_range(-9999..9999); 2],
        },
        4 => Request::RunSample(Sample {
            start: false,
            input: vec![rng.gen_range(-4096..8192), rng.gen_range(-4096..8192)],
            target: rng.gen_bool(0.5).then(|| {
                TargetWords::Activity(vec![rng.gen_range(0..4096), rng.gen_range(0..4096)])
            }),
        }),
        _ => Request::Reset {
            flags: rng.gen_range(0..2),
        },
    }
}

/// Builds the damaged bytes and returns with them whether a pause longer than the inter-byte
/// timeout follows, as when a sender stops in the middle of a frame.
fn damaged_bytes(rng: &mut ChaCha8Rng, damage: Damage, seq: u16) -> (Vec<u8>, bool) {
    let frame = random_request(rng).to_frame(seq).encode();
    match damage {
        Damage::Garbage => {
            let len = rng.gen_range(1..64);
            // Garbage that contains sync bytes now and then, to provoke false frame starts.
            let bytes = (0..len)
                .map(|_| if rng.gen_bool(0.1) { SYNC } else { rng.gen() })
                .collect();
            (bytes, rng.gen_bool(0.5))
        }
        Damage::CutFrame => {
            let keep = rng.gen_range(1..frame.len());
            (frame[..keep].to_vec(), true)
        }
        Damage::BadCrc => {
            let mut bytes = frame;
            let at = rng.gen_range(1..bytes.len());
            bytes[at] ^= 1 << rng.gen_range(0..8);
            (bytes, false)
        }
        Damage::OversizeLength => {
            let length: u16 = rng.gen_range(MAX_PAYLOAD as u16 + 1..=u16::MAX);
            let mut bytes = vec![SYNC, Opcode::WriteMemory as u8];
            bytes.extend_from_slice(&seq.to_le_bytes());
            bytes.extend_from_slice(&length.to_le_bytes());
            bytes.extend((0..rng.gen_range(0..32)).map(|_| rng.gen::<u8>() & 0x7F));
            (bytes, false)
        }
        Damage::UnknownOpcode => {
            let opcode = loop {
                let candidate: u8 = rng.gen();
                let is_request = matches!(Opcode::from_u8(candidate), Some(op) if op.is_request());
                if !is_request {
                    break candidate;
                }
            };
            let payload: Vec<u8> = (0..rng.gen_range(0..16)).map(|_| rng.gen()).collect();
            let mut bytes = vec![SYNC, opcode];
            bytes.extend_from_slice(&seq.to_le_bytes());
            bytes.extend_from_slice(&(payload.len() as u16).to_le_bytes());
            bytes.extend_from_slice(&payload);
            let crc = crc32(&bytes[1..]);
            bytes.extend_from_slice(&crc.to_le_bytes());
            (bytes, false)
        }
    }
}

fn count_of(counters: &LinkCounters, damage: Damage) -> u64 {
    match damage {
        // Garbage is either skipped or starts false frames that fail in some other way.
        Damage::Garbage => counters.total(),
        Damage::CutFrame => counters.timeout,
        Damage::BadCrc => {
            counters.crc + counters.length + counters.unknown_opcode + counters.timeout
        }
        Damage::OversizeLength => counters.length,
        Damage::UnknownOpcode => counters.unknown_opcode,
    }
}

const FUZZ_STREAMS: usize = 10_000;

#[test]
fn fuzz_decoder_streams() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x1EA9);
    let mut decoder = Decoder::new(Accept::Requests, INTER_BYTE_TIMEOUT);
    let started = Instant::now();
    let mut clock = started;

    for stream in 0..FUZZ_STREAMS {
        let damage = DAMAGES[stream % DAMAGES.len()];
        let seq = (2 * stream) as u16;
        let before = decoder.counters();
        let (bad, pause) = damaged_bytes(&mut rng, damage, seq);
        let mut events = decode_all(&mut decoder, &bad, clock);
        if pause {
            clock += INTER_BYTE_TIMEOUT + Duration::from_millis(1);
        }

        let valid = random_request(&mut rng).to_frame(seq + 1);
        events.extend(decode_all(&mut decoder, &valid.encode(), clock));
        // A false frame start in the damage may still hold the valid frame's bytes; the
        // inter-byte timeout releases them.
        clock += INTER_BYTE_TIMEOUT + Duration::from_millis(1);
        events.extend(std::iter::from_fn(|| decoder.poll(clock)));

        let frames = frames_of(&events);
        assert_eq!(
            frames.last(),
            Some(&valid),
            "stream {stream} ({damage:?}): the valid frame was not decoded; events {events:?}"
        );
        assert!(
            !decoder.in_frame(),
            "stream {stream}: a partial frame is left"
        );
        assert!(
            count_of(&decoder.counters(), damage) > count_of(&before, damage),
            "stream {stream} ({damage:?}): not counted; counters {:?}",
            decoder.counters()
        );
    }
    let counters = decoder.counters();
    for (name, count) in [
        ("crc", counters.crc),
        ("framing", counters.framing),
        ("length", counters.length),
        ("timeout", counters.timeout),
        ("unknown opcode", counters.unknown_opcode),
    ] {
        assert!(
            count >= (FUZZ_STREAMS / DAMAGES.len()) as u64 / 2,
            "{name} counted only {count} times: {counters:?}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "fuzzing took {:?}",
        started.elapsed()
    );
}

#[test]
fn fuzz_software_device_streams() {
    let config = small_config();
    let mut device = SoftwareDevice::new(&config).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0x50F7);
    let mut replies = Decoder::new(Accept::Replies, INTER_BYTE_TIMEOUT);
    let started = Instant::now();
    let mut clock = started;

    for stream in 0..FUZZ_STREAMS {
        let damage = DAMAGES[stream % DAMAGES.len()];
        let seq = (2 * stream) as u16;
        let before = device.counters().link;
        let (bad, pause) = damaged_bytes(&mut rng, damage, seq);
        let mut out = device.receive(&bad, clock);
        if pause {
            clock += INTER_BYTE_TIMEOUT + Duration::from_millis(1);
        }

        let request = random_request(&mut rng);
        out.extend(device.receive(&request.to_frame(seq + 1).encode(), clock));
        clock += INTER_BYTE_TIMEOUT + Duration::from_millis(1);
        out.extend(device.poll(clock));

        let events = decode_all(&mut replies, &out, clock);
        assert!(
            events.iter().all(Result::is_ok),
            "stream {stream}: a reply frame is damaged: {events:?}"
        );
        let frames = frames_of(&events);
        let answer = frames
            .last()
            .unwrap_or_else(|| panic!("stream {stream} ({damage:?}): no reply"));
        assert_eq!(
            answer.seq,
            seq + 1,
            "stream {stream} ({damage:?}): the last reply is not for the valid request"
        );
        assert_eq!(
            Some(answer.opcode),
            request.opcode().reply(),
            "stream {stream}: {:?}",
            Reply::from_frame(answer)
        );
        for frame in &frames[..frames.len() - 1] {
            // The only other reply a damaged stream may get is an error for an intact frame
            // with an unknown opcode, or the reply to an intact frame inside the garbage.
            assert_eq!(
                frame.seq, seq,
                "stream {stream} ({damage:?}): unexpected reply {frame:?}"
            );
        }
        if damage == Damage::UnknownOpcode {
            let error = Reply::from_frame(&frames[0]).unwrap();
            assert!(
                matches!(
                    error,
                    Reply::Error(ErrorReply {
                        code: ErrorCode::UNKNOWN_OPCODE,
                        ..
                    })
                ),
                "stream {stream}: {error:?}"
            );
        }
        assert!(
            count_of(&device.counters().link, damage) > count_of(&before, damage),
            "stream {stream} ({damage:?}): not counted"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "fuzzing took {:?}",
        started.elapsed()
    );
}

#[test]
fn fuzz_software_device_random_payloads() {
    // Intact frames with request opcodes and random payloads: every one gets exactly one reply
    // with its sequence number, a success or a coded error, and nothing panics.
    let config = small_config();
    let mut device = SoftwareDevice::new(&config).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0xF00D);
    let requests: Vec<Opcode> = Opcode::ALL
        .into_iter()
        .filter(|op| op.is_request())
        .collect();
    let mut errors = 0;
    for seq in 0..FUZZ_STREAMS as u16 {
        let opcode = requests[rng.gen_range(0..requests.len())];
        let mut payload: Vec<u8> = (0..rng.gen_range(0..48)).map(|_| rng.gen()).collect();
        // Plausible memory headers and sample headers now and then, to get past the first checks.
        if rng.gen_bool(0.5) && payload.len() >= 8 {
            payload[0] = rng.gen_range(0..9);
            payload[2] = rng.gen_range(0..4);
            payload[3] = 0;
            payload[4..8].copy_from_slice(&rng.gen_range(0u32..24).to_le_bytes());
        }
        let reply = device.handle(&Frame::new(opcode, seq, payload));
        assert_eq!(reply.seq, seq);
        assert!(
            reply.opcode == Opcode::Error || Some(reply.opcode) == opcode.reply(),
            "{reply:?}"
        );
        let decoded = Reply::from_frame(&reply)
            .unwrap_or_else(|e| panic!("reply {reply:?} does not decode: {e}"));
        errors += matches!(decoded, Reply::Error(_)) as usize;
    }
    assert!(
        errors > FUZZ_STREAMS / 2,
        "only {errors} payloads were refused"
    );
    assert!(errors < FUZZ_STREAMS, "every payload was refused");
}
