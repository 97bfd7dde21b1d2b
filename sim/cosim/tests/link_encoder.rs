//! The Verilated frame encoder sends exactly the bytes of `Frame::encode`.

use leap_model::protocol::{Frame, Opcode, MAX_PAYLOAD};
use leap_verilator_sys::{Model, PortId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

struct Encoder {
    model: Model,
    write: PortId,
    write_address: PortId,
    write_byte: PortId,
    send: PortId,
    opcode: PortId,
    seq: PortId,
    length: PortId,
    busy: PortId,
    byte: PortId,
    byte_valid: PortId,
    byte_ready: PortId,
}

impl Encoder {
    fn new(seed: u32) -> Encoder {
        let model = Model::new("encoder_4096", seed);
        let port = |name| model.port(name);
        let mut encoder = Encoder {
            write: port("write"),
            write_address: port("write_address"),
            write_byte: port("write_byte"),
            send: port("send"),
            opcode: port("opcode"),
            seq: port("seq"),
            length: port("length"),
            busy: port("busy"),
            byte: port("byte"),
            byte_valid: port("byte_valid"),
            byte_ready: port("byte_ready"),
            model,
        };
        for input in [
            encoder.write,
            encoder.write_address,
            encoder.write_byte,
            encoder.send,
            encoder.opcode,
            encoder.seq,
            encoder.length,
            encoder.byte_ready,
        ] {
            encoder.model.set(input, 0);
        }
        encoder.model.reset(2);
        encoder
    }

    /// Writes the payload, sends the frame and collects its bytes. `ready` decides the sink's
    /// `byte_ready` for each clock. Returns the bytes and the clocks from `send` until `busy` fell.
    fn send_frame(&mut self, frame: &Frame, ready: &mut dyn FnMut() -> bool) -> (Vec<u8>, u64) {
        assert_eq!(self.model.get(self.busy), 0, "idle before a frame");
        for (address, &value) in frame.payload.iter().enumerate() {
            self.model.set(self.write, 1);
            self.model.set(self.write_address, address as i64);
            self.model.set(self.write_byte, value as i64);
            self.model.clock();
        }
        self.model.set(self.write, 0);

        self.model.set(self.opcode, frame.opcode as i64);
        self.model.set(self.seq, frame.seq as i64);
        self.model.set(self.length, frame.payload.len() as i64);
        self.model.set(self.send, 1);
        self.model.clock();
        self.model.set(self.send, 0);
        let sent_at = self.model.cycles();
        assert_eq!(self.model.get(self.busy), 1, "busy on the clock after send");

        let mut bytes = Vec::new();
        let bound = sent_at + 8 * (frame.wire_len() as u64 + 16);
        while self.model.get(self.busy) == 1 {
            assert!(
                self.model.cycles() < bound,
                "the encoder hung after {} of {} bytes",
                bytes.len(),
                frame.wire_len()
            );
            let ready_now = ready();
            self.model.set(self.byte_ready, ready_now as i64);
            self.model.eval();
            if ready_now && self.model.get(self.byte_valid) == 1 {
                bytes.push(self.model.get(self.byte) as u8);
            }
            self.model.clock();
        }
        self.model.set(self.byte_ready, 0);
        (bytes, self.model.cycles() - sent_at)
    }
}

fn random_frame(rng: &mut ChaCha8Rng, length: usize) -> Frame {
    let opcode = Opcode::ALL[rng.gen_range(0..Opcode::ALL.len())];
    let payload = (0..length).map(|_| rng.gen()).collect();
    Frame::new(opcode, rng.gen(), payload)
}

#[test]
fn encoder_bytes_equal_frame_encode() {
    let mut encoder = Encoder::new(3);
    let mut rng = ChaCha8Rng::seed_from_u64(0x1ea9_0002);
    let mut lengths = vec![0, 1, MAX_PAYLOAD, MAX_PAYLOAD - 1];
    lengths.extend((0..200).map(|_| rng.gen_range(0..300)));
    for (index, length) in lengths.into_iter().enumerate() {
        let frame = random_frame(&mut rng, length);
        // Alternate a sink that is always ready with one that stalls at random.
        let stall = index % 2 == 1;
        let mut ready_rng = ChaCha8Rng::seed_from_u64(index as u64);
        let mut ready = || !stall || ready_rng.gen_bool(0.6);
        let (bytes, clocks) = encoder.send_frame(&frame, &mut ready);
        assert_eq!(
            bytes,
            frame.encode(),
            "frame {index}: opcode {:?}, seq {}, {length} payload bytes",
            frame.opcode,
            frame.seq
        );
        if !stall {
            // One byte per clock after the first one, which is valid on the second clock.
            assert_eq!(
                clocks,
                frame.wire_len() as u64 + 1,
                "frame {index}: clocks from send until busy fell with an always-ready sink"
            );
        }
    }
}

#[test]
fn encoder_ignores_writes_while_busy() {
    let mut encoder = Encoder::new(5);
    let mut rng = ChaCha8Rng::seed_from_u64(0x1ea9_0003);
    let frame = random_frame(&mut rng, 64);
    let (first, _) = encoder.send_frame(&frame, &mut || true);
    assert_eq!(first, frame.encode());

    // Send the same payload again while writing other bytes during the transfer.
    encoder.model.set(encoder.opcode, frame.opcode as i64);
    encoder.model.set(encoder.seq, frame.seq as i64);
    encoder.model.set(encoder.length, 64);
    encoder.model.set(encoder.send, 1);
    encoder.model.clock();
    encoder.model.set(encoder.send, 0);
    encoder.model.set(encoder.byte_ready, 1);
    let mut bytes = Vec::new();
    let mut clocks = 0;
    while encoder.model.get(encoder.busy) == 1 {
        encoder.model.set(encoder.write, 1);
        encoder.model.set(encoder.write_address, clocks % 64);
        encoder.model.set(encoder.write_byte, 0x5A);
        encoder.model.eval();
        if encoder.model.get(encoder.byte_valid) == 1 {
            bytes.push(encoder.model.get(encoder.byte) as u8);
        }
        encoder.model.clock();
        clocks += 1;
        assert!(clocks < 1_000, "the encoder hung");
    }
    encoder.model.set(encoder.write, 0);
    assert_eq!(bytes, frame.encode(), "writes while busy change nothing");
}
